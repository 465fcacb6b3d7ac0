"""The Pi model from the device tree, for a config whose station.pi_model is absent or
auto: a Pi 4, a Pi 5, and a machine that is not a Pi (no /proc/device-tree)."""

from pathlib import Path

import pytest

from flashjig.config import load_config, pimodel
from flashjig.config.pimodel import machine_pi_model, pi_model_named
from flashjig.errors import ConfigError

SHIPPED = Path(__file__).resolve().parents[1] / "config" / "flashjig.yaml"


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("Raspberry Pi 5 Model B Rev 1.0\0", "5"),
        ("Raspberry Pi 4 Model B Rev 1.4\0", "4"),
        ("Raspberry Pi 3 Model B Plus Rev 1.3\0", "3B+"),
        ("Raspberry Pi Zero 2 W Rev 1.0\0", "Zero2W"),
        ("Raspberry Pi 500 Rev 1.0\0", None),  # RP1 too, but other USB ports
        ("Raspberry Pi 400 Rev 1.0\0", None),
        ("Raspberry Pi Compute Module 4 Rev 1.0\0", None),
        ("Raspberry Pi 3 Model B Rev 1.2\0", None),  # not the 3 B+
    ],
)
def test_device_tree_names(name, model):
    assert pi_model_named(name) == model


def model_file(tmp_path, name):
    path = tmp_path / "model"
    path.write_bytes(name.encode() + b"\0")
    return path


def test_a_pi5_a_pi4_and_a_machine_that_is_no_pi(tmp_path):
    assert machine_pi_model(model_file(tmp_path, "Raspberry Pi 5 Model B Rev 1.0")) == "5"
    assert machine_pi_model(model_file(tmp_path, "Raspberry Pi 4 Model B Rev 1.5")) == "4"
    assert machine_pi_model(tmp_path / "no-device-tree") is None
    assert machine_pi_model(tmp_path) is None  # unreadable (a directory)


def shipped_with(tmp_path, line):
    """The shipped Pi 4 config, its ``pi_model: "4"`` line replaced (by nothing: absent)."""
    text = SHIPPED.read_text()
    assert text.count('  pi_model: "4"\n') == 1
    path = tmp_path / "station.yaml"
    path.write_text(text.replace('  pi_model: "4"\n', f"  pi_model: {line}\n" if line else ""))
    return path


@pytest.mark.parametrize("written", [None, "auto", "AUTO"])
@pytest.mark.parametrize(
    ("machine", "model"),
    [("Raspberry Pi 5 Model B Rev 1.0", "5"), ("Raspberry Pi 4 Model B Rev 1.4", "4"), (None, "4")],
    ids=["pi5", "pi4", "no-pi"],
)
def test_a_config_without_a_model_takes_the_machines(
    tmp_path, monkeypatch, written, machine, model
):
    path = tmp_path / "no-device-tree" if machine is None else model_file(tmp_path, machine)
    monkeypatch.setattr(pimodel, "DEVICE_TREE_MODEL", path)
    config = shipped_with(tmp_path, written)
    assert load_config(config, check_files=False).station.pi_model == model


def test_a_model_the_config_names_is_kept(tmp_path, monkeypatch):
    pi5 = model_file(tmp_path, "Raspberry Pi 5 Model B Rev 1.0")
    monkeypatch.setattr(pimodel, "DEVICE_TREE_MODEL", pi5)
    config = shipped_with(tmp_path, '"4"')
    assert load_config(config, check_files=False).station.pi_model == "4"
    with pytest.raises(ConfigError, match="expected one of 3B\\+, 4, 5, Zero2W, auto"):
        load_config(shipped_with(tmp_path, '"6"'), check_files=False)
