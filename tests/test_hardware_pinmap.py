"""hw/: the station someone builds must be the station the shipped config drives.

hw/pinmap.yaml is the pin map; config/flashjig.yaml, hw/README.md's table, hw/wiring.svg and
systemd/99-flashjig.rules must agree with it.
"""

import dataclasses
import importlib.util
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from flashjig.hardware.header import config_pins, header_pin, pin_problems
from flashjig.hardware.pinmap import load_pinmap

ROOT = Path(__file__).resolve().parents[1]


HW = ROOT / "hw"


@pytest.fixture(scope="module")
def pinmap():
    return load_pinmap(HW / "pinmap.yaml")


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
        cells = [s.boot, s.en, s.detect, s.led.green, s.power]
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
    assert 'DRIVER=="ftdi_sio", ATTR{latency_timer}="1"' in rules  # 1 ms, not 16


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


def test_switch_inputs_series_resistor_keeps_a_board_pull_up_low(pinmap):
    """GPIO2/3 carry the board's 1.8 kOhm pull-ups: a switch through 330 Ohm (there against
    a GPIO still driven as an output) reads 0.51 V, low; through 1 kOhm, 1.2 V is not."""
    assert pinmap.series_ohms["detect"] == 330 and pinmap.series_ohms["boot"] == 1000
    assert pinmap.input_problems() == []
    resistor = dataclasses.replace(pinmap, series_ohms={**pinmap.series_ohms, "detect": 1000})
    (problem,) = resistor.input_problems()  # socket1's detect is GPIO2
    assert problem.startswith("sockets[0].detect: GPIO2") and "1.18 V" in problem
    small = dataclasses.replace(pinmap, series_ohms={**pinmap.series_ohms, "button": 330})
    assert small.input_problems() == []  # 0.51 V still reads low
