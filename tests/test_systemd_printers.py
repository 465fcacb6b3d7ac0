"""Every label printer the config accepts can be reached by the service: the unit's device
policy lets it open the printer's device node and the service user is in the node's group,
in the unit (SupplementaryGroups=) and in the sysusers file (for anything run as the user).
The kernel's and udev's side of each device is written down here, with where it comes from:
there is no USB printer in CI to stat."""

import fnmatch
from dataclasses import dataclass
from pathlib import Path

import pytest
from test_systemd_unit import unit_settings

from flashjig.config.model import PrinterKind

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "systemd" / "flashjig.service"
SYSUSERS = ROOT / "systemd" / "flashjig.sysusers"


@dataclass(frozen=True)
class Node:
    example: str
    major: int
    name: str  # the major's name in /proc/devices, which DeviceAllow=char-NAME matches
    group: str  # what udev's rules give the node


# usblp's /dev/usb/lpN: usb_register_dev() nodes of the "usb" major (USB_MAJOR 180,
# usb_major_init() in drivers/usb/core/file.c); group lp by systemd's 50-udev-default.rules
# (KERNEL=="lp[0-9]*", GROUP="lp").
USB_PRINTER = Node("/dev/usb/lp0", 180, "usb", "lp")
# A serial printer behind a USB-serial adapter: "ttyUSB", 188 (drivers/usb/serial/
# usb-serial.c); group dialout (50-udev-default.rules: KERNEL=="tty[A-Z]*[0-9]...", dialout).
SERIAL_PRINTER = Node("/dev/ttyUSB0", 188, "ttyUSB", "dialout")

# The device nodes each printer kind writes to; tcp://host:port needs none, nor does CUPS
# (lp talks to cupsd over its AF_UNIX socket).
DEVICES = {
    "brother_ql": [USB_PRINTER],
    "zebra": [USB_PRINTER, SERIAL_PRINTER],
    "cups": [],
}


def sysusers_members(text: str, user: str) -> set[str]:
    members = set()
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] == "m" and fields[1] == user:
            members.add(fields[2])
    return members


def allows(device_allow: list[str], node: Node) -> bool:
    """Does one of the unit's DeviceAllow= entries give read-write access to the node's
    major, as systemd resolves them (bpf_devices_allow_list_major(), src/core/bpf-devices.c:
    char-NAME is fnmatch()ed against /proc/devices' names, or a number is the major)?"""
    for entry in device_allow:
        what, _, access = entry.partition(" ")
        if not what.startswith("char-") or not {"r", "w"} <= set(access or "rwm"):
            continue
        name = what.removeprefix("char-")
        if name == str(node.major) or fnmatch.fnmatchcase(node.name, name):
            return True
    return False


def test_every_printer_kind_the_config_accepts_is_listed():
    assert set(DEVICES) == set(PrinterKind)


@pytest.mark.parametrize("kind", [kind.value for kind in PrinterKind])
def test_the_service_may_open_the_printers_device(kind):
    settings = unit_settings(UNIT.read_text())
    assert settings["DevicePolicy"] == ["closed"]
    assert settings["User"] == ["flashjig"]
    groups = " ".join(settings["SupplementaryGroups"]).split()
    members = sysusers_members(SYSUSERS.read_text(), "flashjig")
    for node in DEVICES[kind]:
        assert allows(settings["DeviceAllow"], node), f"{kind}: {node.example} is denied"
        assert node.group in groups, f"{kind}: {node.example} is group {node.group}'s"
        assert node.group in members, f"{kind}: flashjig is not in {node.group}"


def test_no_raw_usb_access_comes_with_the_printers():
    """char-usb must not grow into char-usb* : that would take in 189 "usb_device", every
    USB device's raw node (/dev/bus/usb/...)."""
    raw = Node("/dev/bus/usb/001/001", 189, "usb_device", "root")
    assert not allows(unit_settings(UNIT.read_text())["DeviceAllow"], raw)
