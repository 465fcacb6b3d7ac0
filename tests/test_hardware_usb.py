"""A socket's adapter is known by what sysfs says of the USB device behind its tty (on a
fake sysfs tree laid out as the kernel lays out a ttyUSB and a ttyACM)."""

import os

import pytest

from flashjig.hardware.usb import adapter_identity


def usb_tty(root, tty, *, serial, acm=False):
    """/sys/class/tty/<tty>/device as the kernel links it, under a USB device at 1-1.3;
    a /dev link to it, as udev's by-path name is."""
    device = root / "devices/platform/usb1/1-1/1-1.3"
    interface = device / "1-1.3:1.0"
    port = interface if acm else interface / tty
    port.mkdir(parents=True)
    attributes = {"idVendor": "1a86", "idProduct": "7523", "product": "USB Serial"}
    attributes |= {"busnum": "1", "devnum": "7"}
    if serial:
        attributes["serial"] = serial
    for name, value in attributes.items():
        (device / name).write_text(value + "\n")
    (root / "class/tty" / tty).mkdir(parents=True)
    (root / "class/tty" / tty / "device").symlink_to(port)
    dev = root / "dev"
    dev.mkdir()
    (dev / tty).touch()
    (dev / "by-path-socket1").symlink_to(dev / tty)
    return str(dev / "by-path-socket1")


@pytest.mark.parametrize("acm", [False, True], ids=["ttyUSB", "ttyACM"])
def test_an_adapter_with_a_serial_number_is_known_by_it(tmp_path, acm):
    port = usb_tty(tmp_path, "ttyACM0" if acm else "ttyUSB0", serial="A50285BI", acm=acm)
    identity = adapter_identity(port, sys_tty=tmp_path / "class/tty")
    assert identity == "1a86:7523:A50285BI:USB Serial"


def test_one_without_is_known_by_where_it_is_plugged_in(tmp_path):
    port = usb_tty(tmp_path, "ttyUSB0", serial=None)
    assert adapter_identity(port, sys_tty=tmp_path / "class/tty") == "1a86:7523:USB Serial@1-7"


def test_what_is_no_usb_device_has_no_identity(tmp_path):
    os.mkdir(tmp_path / "tty")
    assert adapter_identity("/dev/pts/0", sys_tty=tmp_path / "tty") is None
    assert adapter_identity("socket://localhost:1", sys_tty=tmp_path / "tty") is None
