"""hw/: the station someone builds must be the station the shipped config drives.

hw/pinmap.yaml is the pin map; config/flashjig.yaml, hw/README.md's table, hw/wiring.svg and
systemd/99-flashjig.rules must agree with it. Then `flashjig check-config` and
`flashjig probe --simulate` as a user runs them.
"""

import argparse
import dataclasses
import importlib.util
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import write_station_config
from helpers import flashjig

from flashjig.cli import probe
from flashjig.cli.check_config import check_config
from flashjig.config import load_config
from flashjig.hardware.header import (
    config_pins,
    header_pin,
    pin_problems,
)
from flashjig.hardware.pinmap import load_pinmap

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "config" / "flashjig.yaml"
HW = ROOT / "hw"


@pytest.fixture(scope="module")
def pinmap():
    return load_pinmap(HW / "pinmap.yaml")


@pytest.fixture(scope="module")
def shipped():
    return load_config(SHIPPED, check_files=False)  # its image is built at run time


@pytest.fixture
def shipped_copy(tmp_path, firmware_1m):
    """The shipped config, comments and line numbers intact, next to an image that exists."""
    (tmp_path / "firmware").mkdir()
    shutil.copy(firmware_1m, tmp_path / "firmware" / "demo.bin")
    path = tmp_path / "flashjig.yaml"
    shutil.copy(SHIPPED, path)
    return path


def edited(path: Path, old: str, new: str) -> Path:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    path.write_text(text.replace(old, new))
    return path


def line_of(path: Path, snippet: str) -> int:
    (line,) = [
        i for i, text in enumerate(path.read_text().splitlines(), 1) if text.strip() == snippet
    ]
    return line


# -- the pin map and what must agree with it ------------------------------------------------


def test_shipped_config_matches_the_pin_map_pin_for_pin(shipped, pinmap):
    assert [s.name for s in shipped.sockets] == [s.name for s in pinmap.sockets]
    for ours, built in zip(shipped.sockets, pinmap.sockets, strict=True):
        # Every field: serial (the USB port), gpio0, en, detect, led, power, power_active_low.
        assert ours == built, f"{ours.name} differs from hw/pinmap.yaml"
    assert shipped.station.button == pinmap.button
    assert shipped.station.status_led == pinmap.status_led
    assert shipped.station.buses == pinmap.buses
    assert shipped.station.pi_model in pinmap.pi_models
    assert dict(config_pins(shipped)) == dict(pinmap.pins())


def test_every_pin_used_once_and_none_reserved_on_any_model(shipped, pinmap):
    pins = [pin for _, pin in pinmap.pins()]
    assert len(pins) == len(set(pins)) == 26  # GPIO2-27: all of them, GPIO0/1 left free
    assert not {"GPIO0", "GPIO1"} & set(pins)
    for model in pinmap.pi_models:
        station = dataclasses.replace(shipped.station, pi_model=model)
        assert pin_problems(dataclasses.replace(shipped, station=station)) == [], model


def test_readme_pin_table_matches_the_pin_map(pinmap):
    readme = (HW / "README.md").read_text().splitlines()
    rows = [line for line in readme if re.match(r"\| socket\d+ \|", line)]
    expected = []
    for s, (name, id_path) in zip(pinmap.sockets, pinmap.id_paths.items(), strict=True):
        assert s.name == name
        cells = [s.gpio0, s.en, s.detect, s.led.green, s.power]
        port = id_path.split(":")[-2].rsplit(".", 1)[1]
        shown = " | ".join(f"{pin} ({header_pin(pin)})" for pin in cells)
        expected.append(f"| {s.name} | {shown} | {port} |")
    assert rows == expected


def test_udev_rules_parse_and_name_each_socket_by_its_usb_port(pinmap):
    rules = (ROOT / "systemd" / "99-flashjig.rules").read_text()
    pair = re.compile(r'([A-Z_]+(?:\{[A-Za-z_]+\})?)(==|!=|\+=|:=|=)"([^"]*)"')
    by_link = {}
    lines = [line for line in rules.splitlines() if line.strip() and not line.startswith("#")]
    for line in lines:
        keys = [part.strip() for part in line.split(",")]
        parsed = [pair.fullmatch(key) for key in keys]
        assert all(parsed), f"not KEY==/KEY= pairs: {line}"
        fields = {(m[1], m[2]): m[3] for m in parsed}
        if ("SYMLINK", "+=") in fields:
            assert fields[("SUBSYSTEM", "==")] == "tty"
            assert fields[("GROUP", "=")] == "dialout" and fields[("MODE", "=")] == "0660"
            by_link[fields[("SYMLINK", "+=")]] = fields[("ENV{ID_PATH}", "==")]
    assert by_link == {f"flashjig-{name}": path for name, path in pinmap.id_paths.items()}
    assert 'KERNEL=="gpiochip*", GROUP="gpio", MODE="0660"' in rules


def test_wiring_svg_is_well_formed_current_and_names_every_pin(pinmap):
    svg = HW / "wiring.svg"
    texts = [el.text or "" for el in ET.parse(svg).iter() if el.tag.endswith("text")]
    words = set(" ".join(texts).replace("(", " ").replace(")", " ").split())
    for s in pinmap.sockets:
        assert s.name in words
    for field, pin in pinmap.pins():
        assert pin in words, field
        assert str(header_pin(pin)) in texts, f"header pin of {field}"
    spec = importlib.util.spec_from_file_location("wiring_svg", HW / "wiring_svg.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert svg.read_text(encoding="utf-8") == module.render(pinmap), (
        "hw/wiring.svg is out of date: .venv/bin/python hw/wiring_svg.py"
    )


# -- check-config -------------------------------------------------------------------------


def test_check_config_passes_on_the_shipped_config(tmp_path, firmware_1m):
    path = write_station_config(tmp_path, [(0, firmware_1m)])
    assert check_config(path) == []
    run = flashjig("check-config", str(path))
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout == f"{path}: ok (5 sockets, profile demo)\n"


def test_check_config_file_argument_wins_over_config_option(shipped_copy, tmp_path):
    run = flashjig("check-config", str(shipped_copy), "--config", str(tmp_path / "nope.yaml"))
    assert run.returncode == 0, run.stdout
    assert run.stdout.startswith(f"{shipped_copy}: ok")


def test_check_config_reports_a_missing_image_and_still_checks_pins(shipped_copy):
    (shipped_copy.parent / "firmware" / "demo.bin").unlink()
    edited(shipped_copy, "  buses: []", "  buses: [i2c1]")
    problems = check_config(shipped_copy)
    image_line = line_of(shipped_copy, "file: firmware/demo.bin")
    assert problems[0].startswith(f"line {image_line}: profiles.demo.images[0].file: ")
    assert "image file not found" in problems[0]
    assert len(problems) == 3  # and the two I2C pins


def test_check_config_refuses_a_pin_a_bus_needs(shipped_copy):
    edited(shipped_copy, "  buses: []", "  buses: [i2c1]")
    run = flashjig("check-config", str(shipped_copy))
    assert run.returncode == 2
    assert run.stdout.splitlines() == [
        f"{shipped_copy}: line {line_of(shipped_copy, 'button: GPIO3')}: station.button: "
        "GPIO3 (header pin 5) is reserved for i2c1 SCL (station.buses)",
        f"{shipped_copy}: line {line_of(shipped_copy, 'detect: GPIO2')}: sockets[0].detect: "
        "GPIO2 (header pin 3) is reserved for i2c1 SDA (station.buses)",
    ]


def test_check_config_refuses_a_pin_used_twice(shipped_copy):
    edited(shipped_copy, "    en: GPIO10\n", "    en: GPIO9\n")
    run = flashjig("check-config", str(shipped_copy))
    assert run.returncode == 2
    lines = shipped_copy.read_text().splitlines()
    line = [i for i, text in enumerate(lines, 1) if text == "    en: GPIO9"][1]  # socket2's
    assert run.stdout.splitlines() == [
        f"{shipped_copy}: line {line}: sockets[1].en: "
        "GPIO9 is used twice: sockets[0].en and sockets[1].en"
    ]


@pytest.mark.parametrize(
    ("model", "buses", "expected"),
    [
        ("5", ["uart5"], ["station.buses[0]: uart5 does not exist on a Raspberry Pi 5"]),
        ("3B+", ["uart2"], ["station.buses[0]: uart2 does not exist on a Raspberry Pi 3B+"]),
        ("Zero2W", ["uart3"], ["station.buses[0]: uart3 does not exist on a Raspberry Pi Zero2W"]),
        (
            "4",
            ["uart3"],  # Pi 4: uart3 on GPIO4/5
            [
                "sockets[0].gpio0: GPIO4 (header pin 7) is reserved for uart3 TXD",
                "sockets[1].gpio0: GPIO5 (header pin 29) is reserved for uart3 RXD",
            ],
        ),
        (
            "5",
            ["uart3"],  # Pi 5: uart3-pi5 on GPIO8/9
            [
                "sockets[0].en: GPIO9 (header pin 21) is reserved for uart3 RXD",
                "sockets[4].gpio0: GPIO8 (header pin 24) is reserved for uart3 TXD",
            ],
        ),
        ("4", ["spi0", "uart4"], ["station.buses[1]: uart4 and spi0 both need GPIO8, GPIO9"]),
        ("4", ["uart0", "uart0"], ["station.buses[1]: uart0 is listed twice"]),
    ],
)
def test_bus_pins_per_pi_model(shipped, model, buses, expected):
    station = dataclasses.replace(shipped.station, pi_model=model, buses=tuple(buses))
    problems = pin_problems(dataclasses.replace(shipped, station=station))
    for fragment in expected:
        assert any(problem.startswith(fragment) for problem in problems), (fragment, problems)


def test_hat_eeprom_pins_are_reserved_unless_a_uart_takes_them(shipped):
    sockets = list(shipped.sockets)
    sockets[0] = dataclasses.replace(sockets[0], power="GPIO1")
    config = dataclasses.replace(shipped, sockets=tuple(sockets))
    assert pin_problems(config) == [
        "sockets[0].power: GPIO1 (header pin 28) is reserved for ID_SC of the HAT ID EEPROM"
    ]
    station = dataclasses.replace(shipped.station, buses=("uart2",))  # Pi 4: GPIO0/1
    assert pin_problems(dataclasses.replace(config, station=station)) == [
        "sockets[0].power: GPIO1 (header pin 28) is reserved for uart2 RXD (station.buses)"
    ]


# -- probe --------------------------------------------------------------------------------


def test_probe_simulate_passes_every_socket(tmp_path, firmware_1m):
    path = write_station_config(tmp_path, [(0, firmware_1m)])
    run = flashjig("probe", "--simulate", "--config", str(path), "--state-dir", str(tmp_path))
    assert run.returncode == 0, run.stdout + run.stderr
    verdicts = run.stdout.strip().splitlines()[-5:]
    for n, verdict in enumerate(verdicts, 1):
        assert verdict.startswith(f"socket{n}: pass: detect switch ok, button ok, serial /dev/")
        assert re.search(r"ROM bootloader answered \(MAC 5c:cf:7f(:[0-9a-f]{2}){3}\)$", verdict)


def test_probe_times_out_when_nobody_seats_a_module(shipped_copy, monkeypatch, capsys):
    class Nobody:
        def __init__(self, hardware) -> None:
            pass

        def seat(self, socket, button) -> None:
            pass

    monkeypatch.setattr(probe, "_SimulatedPerson", Nobody)
    monkeypatch.setattr(probe, "SIM_STEP_S", 0.2)
    args = argparse.Namespace(config=shipped_copy, state_dir=None, simulate=True, yes=False)
    assert probe.run_probe(args) == 1
    verdicts = capsys.readouterr().out.strip().splitlines()[-5:]
    for n, verdict in enumerate(verdicts, 1):
        assert verdict.startswith(
            f"socket{n}: FAIL: detect switch not seen, button not seen, serial missing"
        )


def test_probe_on_real_pins_asks_first(shipped_copy):
    run = flashjig("probe", "--config", str(shipped_copy), stdin=subprocess.DEVNULL)
    assert run.returncode == 2
    assert "--yes" in run.stderr
