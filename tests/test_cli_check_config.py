"""``flashjig check-config`` as a user runs it: the shipped config passes, and each problem
is one located line (a missing image, a pin a bus needs, a pin used twice)."""

from pathlib import Path

import pytest
import yaml
from conftest import write_station_config
from helpers import flashjig

from flashjig.cli.check_config import check_config


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
    assert problems[0].startswith(f"{shipped_copy}:{image_line}: profiles.demo.images[0].file: ")
    assert "image file not found" in problems[0]
    assert len(problems) == 3  # and the two I2C pins


def test_check_config_refuses_a_pin_a_bus_needs(shipped_copy):
    edited(shipped_copy, "  buses: []", "  buses: [i2c1]")
    run = flashjig("check-config", str(shipped_copy))
    assert run.returncode == 2
    assert run.stdout.splitlines() == [
        f"{shipped_copy}:{line_of(shipped_copy, 'button: GPIO3')}: station.button: "
        "GPIO3 (header pin 5) is reserved for i2c1 SCL (station.buses)",
        f"{shipped_copy}:{line_of(shipped_copy, 'detect: GPIO2')}: sockets[0].detect: "
        "GPIO2 (header pin 3) is reserved for i2c1 SDA (station.buses)",
    ]


def test_check_config_refuses_a_pin_used_twice(shipped_copy):
    edited(shipped_copy, "    en: GPIO10\n", "    en: GPIO9\n")
    run = flashjig("check-config", str(shipped_copy))
    assert run.returncode == 2
    lines = shipped_copy.read_text().splitlines()
    line = [i for i, text in enumerate(lines, 1) if text == "    en: GPIO9"][1]  # socket2's
    assert run.stdout.splitlines() == [
        f"{shipped_copy}:{line}: sockets[1].en: "
        "GPIO9 is used twice: sockets[0].en and sockets[1].en"
    ]


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["wrong magic", "sha256 pin", "cut short"])
def test_check_config_refuses_every_image_run_refuses(tmp_path, firmware_1m, fault):
    """One code path: what `flashjig run` will not start with, check-config does not pass."""
    data = firmware_1m.read_bytes()
    image = tmp_path / "image.bin"
    bad = {"wrong magic": b"\x00" + data[1:], "sha256 pin": data, "cut short": data[:24]}
    image.write_bytes(bad[fault])
    path = write_station_config(tmp_path, [(0, image)])
    if fault == "sha256 pin":
        config = yaml.safe_load(path.read_text())
        config["profiles"][config["active_profile"]]["images"][0]["sha256"] = "0" * 64
        path.write_text(yaml.safe_dump(config, sort_keys=False))
    run = flashjig("check-config", str(path))
    assert run.returncode == 2, run.stdout
    (line,) = run.stdout.strip().splitlines()
    assert line.startswith(f"{path}: {image}")
    state = tmp_path / "state"
    started = flashjig("run", "--simulate", "--config", str(path), "--state-dir", str(state))
    assert started.returncode == 2 and str(image) in started.stderr


def test_check_config_on_a_pi_refuses_another_models_config(shipped_copy, tmp_path, monkeypatch):
    """The packaged config says "4": on a Pi 5 (its device tree says so) check-config names
    the mismatch at the pi_model line, rather than checking pins and USB names against a
    board that is not there; auto takes the machine's model and passes the model check."""
    from flashjig.config import pimodel

    model = tmp_path / "model"
    model.write_bytes(b"Raspberry Pi 5 Model B Rev 1.0\0")
    monkeypatch.setattr(pimodel, "DEVICE_TREE_MODEL", model)
    text = shipped_copy.read_text()
    line = text.splitlines().index('  pi_model: "4"') + 1
    assert check_config(shipped_copy)[0] == (
        f"{shipped_copy}:{line}: station.pi_model: '4', but this machine is a Raspberry Pi 5 "
        "(its device tree): set '5' or auto, or let flashjig usb-map set it"
    )
    shipped_copy.write_text(text.replace('pi_model: "4"', "pi_model: auto"))
    problems = check_config(shipped_copy)
    assert not any(": station.pi_model: " in problem for problem in problems)
    assert "names a Raspberry Pi 4 USB port, but station.pi_model is '5'" in problems[0]
    model.write_bytes(b"Raspberry Pi 4 Model B Rev 1.4\0")
    shipped_copy.write_text(text)
    assert check_config(shipped_copy) == []
