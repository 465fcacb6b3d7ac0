"""The example configs shipped for a Raspberry Pi 4 (config/flashjig.yaml) and a Pi 5
(config/flashjig-pi5.yaml): each passes check-config for its model, neither for the other,
and they describe the same station but for the model and the adapters' USB names."""

import dataclasses
import shutil
from pathlib import Path

import pytest

from flashjig.cli.check_config import check_config
from flashjig.config import load_config

CONFIG = Path(__file__).resolve().parents[1] / "config"
EXAMPLES = {"4": CONFIG / "flashjig.yaml", "5": CONFIG / "flashjig-pi5.yaml"}


@pytest.fixture
def examples(tmp_path, firmware_1m):
    """Copies beside an image that exists (the shipped one is built at run time)."""
    (tmp_path / "firmware").mkdir()
    shutil.copy(firmware_1m, tmp_path / "firmware" / "demo.bin")
    copies = {}
    for model, path in EXAMPLES.items():
        copies[model] = tmp_path / path.name
        shutil.copy(path, copies[model])
    return copies


@pytest.mark.parametrize("model", sorted(EXAMPLES))
def test_each_example_passes_check_config_for_its_model(examples, model):
    assert load_config(examples[model]).station.pi_model == model
    assert check_config(examples[model]) == []


@pytest.mark.parametrize(("model", "other"), [("4", "5"), ("5", "4")])
def test_an_example_on_the_other_model_names_every_socket_serial(examples, model, other):
    path = examples[model]
    path.write_text(path.read_text().replace(f'pi_model: "{model}"', f'pi_model: "{other}"'))
    problems = check_config(path)
    lines = path.read_text().splitlines()
    serial_lines = [n for n, text in enumerate(lines, 1) if text.strip().startswith("serial:")]
    assert [p.split(": ")[:2] for p in problems] == [
        [f"{path}:{n}", f"sockets[{i}].serial"] for i, n in enumerate(serial_lines)
    ]
    assert f"names a Raspberry Pi {model} USB port" in problems[0]


def test_the_examples_differ_only_in_model_and_usb_names():
    pi4, pi5 = (load_config(EXAMPLES[m], check_files=False) for m in ("4", "5"))
    sockets = tuple(
        dataclasses.replace(s, serial=t.serial)
        for s, t in zip(pi5.sockets, pi4.sockets, strict=True)
    )
    station = dataclasses.replace(pi5.station, pi_model="4")
    assert dataclasses.replace(pi5, path=pi4.path, station=station, sockets=sockets) == pi4
