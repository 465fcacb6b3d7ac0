"""USB-serial adapters as udev names them, by the USB port they are plugged into.

udev links each USB tty as ``/dev/serial/by-path/<ID_PATH>-port<N>``: ID_PATH is the host
controller and the chain of ports to the adapter (``platform-xhci-hcd.0-usb-0:1.3:1.0``),
the same whichever adapter sits there and whatever ttyUSB number it got. A socket's
adapter is named by that path in the config, and by a udev rule matching its ID_PATH
(``/dev/flashjig-socketN``). ``flashjig usb-map`` finds the paths by watching which name
appears when the operator plugs each socket's adapter in.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import serial

from flashjig.errors import HardwareError

BY_PATH = Path("/dev/serial/by-path")
SYS_TTY = Path("/sys/class/tty")
POLL_S = 0.2
USB_DEVICE_DEPTH = 3  # a ttyUSB's port, its interface, then the USB device (ttyACM: one less)


def adapters(directory: Path = BY_PATH) -> set[str]:
    """The by-path names of the serial adapters plugged in now."""
    try:
        return {entry.name for entry in directory.iterdir()}
    except FileNotFoundError:  # udev removes the directory with the last adapter
        return set()


def id_path(name: str) -> str:
    """udev's ID_PATH of a by-path name (the name without its ``-portN``)."""
    path, sep, port = name.rpartition("-port")
    return path if sep and port.isdigit() else name


def wait_for_new(before: set[str], timeout: float, directory: Path = BY_PATH) -> str | None:
    """The one adapter that appears within ``timeout`` s; None when none does. Two at once
    cannot be told apart: plug one at a time."""
    deadline = time.monotonic() + timeout
    while True:
        new = adapters(directory) - before
        if len(new) > 1:
            names = ", ".join(sorted(new))
            raise HardwareError(f"{len(new)} adapters appeared at once ({names}): one at a time")
        if new:
            return new.pop()
        if time.monotonic() >= deadline:
            return None
        time.sleep(POLL_S)


def adapter_identity(port: str, sys_tty: Path = SYS_TTY) -> str | None:
    """Which adapter is at ``port``, as sysfs knows it: ``vid:pid:serial:product``, or
    ``vid:pid:product@bus-devnum`` for one without a serial number (a CH340: a re-plug or
    reboot gives it a new one). Sockets are named by USB port, so only this tells a swapped
    adapter apart. None for what is not a USB device (a pseudo terminal, a URL)."""
    tty = Path(os.path.realpath(port)).name
    try:
        found = (sys_tty / tty / "device").resolve(strict=True)
    except OSError:
        return None
    for device in (found, *found.parents[: USB_DEVICE_DEPTH - 1]):
        if (device / "idVendor").is_file():
            return _identity(device)
    return None


def _identity(device: Path) -> str:
    def attribute(name: str) -> str:
        try:
            return (device / name).read_text().strip()
        except OSError:
            return ""

    vid, pid, product = attribute("idVendor"), attribute("idProduct"), attribute("product")
    serial_number = attribute("serial")
    if serial_number:
        return f"{vid}:{pid}:{serial_number}:{product}"
    return f"{vid}:{pid}:{product}@{attribute('busnum')}-{attribute('devnum')}"


@contextlib.contextmanager
def tx_held_low(port: str) -> Iterator[None]:
    """The adapter's TX held low (a serial break) while the block runs. Idle, TX is high, and
    into an unpowered module it feeds the 3.3 V rail through the RX pin's protection diode
    and 1 kOhm: about 0.9 V stays on an "off" socket, with its 470 Ohm bleed, and a power
    cycle is then no clean power-on reset. (Measured by whoever filed issue 12; a pseudo
    terminal takes the break and shows nothing, so it is not testable here.)"""
    try:
        link = serial.Serial(port)
    except (serial.SerialException, OSError):  # no adapter there: nothing feeds the module
        link = None
    if link is None:
        yield
        return
    with link:
        link.break_condition = True
        try:
            yield
        finally:
            link.break_condition = False


UDEV_HEADER = """\
# flashjig: stable names for the sockets' USB-serial adapters, and access to the GPIO chips.
# The package installs this file as /usr/lib/udev/rules.d/99-flashjig.rules; `flashjig
# usb-map` writes /etc/udev/rules.d/99-flashjig.rules for the station at hand, which takes
# its place (udev reads the one in /etc): change that one, never the packaged file.
#
# /dev/ttyUSBn numbers follow the order in which adapters are found, which changes between
# boots: they must never decide which module gets which image. These rules name each adapter
# by the USB port it is plugged into (udev's ID_PATH: host controller, then the port chain),
# so /dev/flashjig-socketN is always the adapter in that socket's port, whichever adapter
# that is. After a change: sudo udevadm control --reload && sudo udevadm trigger
"""
UDEV_FOOTER = """
# FTDI adapters (FT232R) hold what they receive for up to 16 ms before passing it on, and
# esptool waits for an answer to every block it sends: 1 ms makes them as quick as a CP2102.
ACTION=="add", SUBSYSTEM=="usb-serial", DRIVER=="ftdi_sio", ATTR{latency_timer}="1"

# The GPIO character devices (/dev/gpiochipN, what lgpio opens) for group gpio. Raspberry Pi OS
# ships a rule like this; Debian and Ubuntu images for the Pi leave them to root.
SUBSYSTEM=="gpio", KERNEL=="gpiochip*", GROUP="gpio", MODE="0660"
"""


def udev_rules(sockets: Iterable[tuple[str, str]], *, where: str) -> str:
    """The rules file for (socket name, ID_PATH) pairs; ``where`` says whose ports they are."""
    lines = [UDEV_HEADER + f"#\n# {where}\n"]
    for name, path in sockets:
        lines.append(
            f'SUBSYSTEM=="tty", ENV{{ID_PATH}}=="{path}", SYMLINK+="flashjig-{name}", '
            'GROUP="dialout", MODE="0660"\n'
        )
    return "".join(lines) + UDEV_FOOTER
