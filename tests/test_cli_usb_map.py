"""``flashjig usb-map``: each socket's USB port found by plugging its adapter in, through
simulated adapters (a directory standing in for /dev/serial/by-path)."""

import re
import shutil
from pathlib import Path

import pytest
from helpers import flashjig

from flashjig.cli import usb_map
from flashjig.cli.check_config import check_config
from flashjig.errors import HardwareError
from flashjig.hardware import usb

CONFIG = Path(__file__).resolve().parents[1] / "config"
RULES = Path(__file__).resolve().parents[1] / "systemd" / "99-flashjig.rules"


def unmapped(tmp_path, name, image):
    """A copy of an example config whose serial: paths are not yet known, with its image."""
    (tmp_path / "firmware").mkdir(exist_ok=True)
    shutil.copy(image, tmp_path / "firmware" / "demo.bin")
    text = (CONFIG / name).read_text()
    text = re.sub(r"/dev/serial/by-path/\S+-usb-0:[\d.]+\.(\d):1\.0-port0", r"/dev/old-\1", text)
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("name", ["flashjig.yaml", "flashjig-pi5.yaml"])
def test_plugging_each_adapter_writes_the_config_and_the_udev_rules(tmp_path, name, firmware_1m):
    config = unmapped(tmp_path, name, firmware_1m)
    assert config.read_text() != (CONFIG / name).read_text()
    rules = tmp_path / "99-flashjig.rules"
    run = flashjig("usb-map", "--simulate", "--config", str(config), "--rules", str(rules))
    assert run.returncode == 0, run.stderr
    assert "socket5: plug in its adapter" in run.stdout
    # Comments and every other field kept: the shipped example, byte for byte.
    assert config.read_text() == (CONFIG / name).read_text()
    assert check_config(config) == []
    links = re.findall(r'ENV\{ID_PATH\}=="([^"]+)", SYMLINK\+="flashjig-(\w+)"', rules.read_text())
    serials = re.findall(r"serial: /dev/serial/by-path/(\S+)-port0", config.read_text())
    assert [path for path, _ in links] == serials
    assert [socket for _, socket in links] == [f"socket{n}" for n in range(1, 6)]
    if name == "flashjig.yaml":  # the shipped rules are the Pi 4 station's
        assert links == re.findall(
            r'ENV\{ID_PATH\}=="([^"]+)", SYMLINK\+="flashjig-(\w+)"', RULES.read_text()
        )


def test_nothing_is_written_when_an_adapter_never_appears(
    tmp_path, monkeypatch, capsys, firmware_1m
):
    config = unmapped(tmp_path, "flashjig.yaml", firmware_1m)
    before = config.read_text()
    rules = tmp_path / "rules"
    monkeypatch.setattr(usb_map, "SIM_STEP_S", 0.3)
    monkeypatch.setattr(usb_map, "_simulated", lambda adapters: lambda number: None)
    args = usb_map_args(config, rules)
    assert usb_map.run(args) == 1
    assert "no adapter appeared for socket1 in 0.3 s" in capsys.readouterr().out
    assert config.read_text() == before and not rules.exists()


def test_two_adapters_at_once_cannot_be_told_apart(tmp_path):
    (tmp_path / "a-port0").touch()
    (tmp_path / "b-port0").touch()
    with pytest.raises(HardwareError, match="2 adapters appeared at once"):
        usb.wait_for_new(set(), 1.0, tmp_path)
    assert usb.wait_for_new({"a-port0", "b-port0"}, 0.0, tmp_path) is None
    assert usb.adapters(tmp_path / "gone") == set()


def test_a_by_path_name_gives_udevs_id_path():
    name = "platform-xhci-hcd.0-usb-0:1.3:1.0-port0"
    assert usb.id_path(name) == "platform-xhci-hcd.0-usb-0:1.3:1.0"
    assert usb.id_path("no-port-suffix") == "no-port-suffix"


def usb_map_args(config, rules):
    from flashjig.cli import build_parser

    return build_parser().parse_args(
        ["usb-map", "--simulate", "--config", str(config), "--rules", str(rules)]
    )


def test_on_a_pi5_the_map_takes_all_four_ports_and_sets_the_model(
    tmp_path, monkeypatch, capsys, firmware_1m
):
    """The Pi 4 example on a Pi 5, adapters in all four of its USB ports (two RP1
    controllers, two ports each): the serial: paths are the Pi 5's, and pi_model becomes "5"
    (the device tree says so), so that check-config takes them."""
    from flashjig.config import load_config
    from flashjig.config import pimodel as pimodel_module
    from flashjig.hardware.pi import usb_path_problems

    config = unmapped(tmp_path, "flashjig.yaml", firmware_1m)
    by_path = tmp_path / "by-path"
    by_path.mkdir()
    ports = ["xhci-hcd.0-usb-0:1", "xhci-hcd.0-usb-0:2", "xhci-hcd.1-usb-0:1", "xhci-hcd.1-usb-0:2"]
    names = [f"platform-{port}.3:1.0-port0" for port in ports] + [
        "platform-xhci-hcd.1-usb-0:2:1.0-port0"  # an adapter straight in the socket
    ]
    model = tmp_path / "model"
    model.write_bytes(b"Raspberry Pi 5 Model B Rev 1.0\0")
    monkeypatch.setattr(pimodel_module, "DEVICE_TREE_MODEL", model)
    monkeypatch.setattr(usb, "BY_PATH", by_path)
    monkeypatch.setattr(usb_map, "_ask_person", lambda n: (by_path / names[n - 1]).touch())
    rules = tmp_path / "rules"
    args = build_args(config, rules)
    assert usb_map.run(args) == 0
    out = capsys.readouterr().out
    assert "this is a Raspberry Pi 5: station.pi_model '4' becomes '5'" in out
    assert "(the Pi's USB port 4 of 4: platform-xhci-hcd.1-usb-0:2)" in out
    text = config.read_text()
    assert '  pi_model: "5"\n' in text and 'pi_model: "4"' not in text
    loaded = load_config(config, check_files=False)
    assert loaded.station.pi_model == "5"
    assert [s.serial for s in loaded.sockets] == [f"{by_path}/{name}" for name in names]
    # Named as udev names them, check-config's USB check takes all of them.
    as_udev = tmp_path / "as-udev.yaml"
    as_udev.write_text(text.replace(str(by_path), "/dev/serial/by-path"))
    assert usb_path_problems(load_config(as_udev, check_files=False)) == []
    assert "on a Raspberry Pi 5." in rules.read_text()


def build_args(config, rules):
    from flashjig.cli import build_parser

    return build_parser().parse_args(["usb-map", "--config", str(config), "--rules", str(rules)])
