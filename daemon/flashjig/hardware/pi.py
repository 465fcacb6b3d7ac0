"""The real thing: a Raspberry Pi's GPIO through gpiozero's lgpio pin factory, on the GPIO
chip that carries the 40-pin header, and each socket's USB-serial adapter at the path
its config names.

The header's chip is found by the label its kernel driver gives it, not by number: a Pi 5
numbers its RP1 controller gpiochip4 on older kernels and gpiochip0 on newer ones (and
gpiozero 2.0.1 hard-coded gpiochip4). Labels: ``pinctrl-rp1`` (Pi 5), ``pinctrl-bcm2711``
(Pi 4), ``pinctrl-bcm2835`` (Pi 3 B+, Zero 2 W). Not testable here (no GPIO chip on this
machine); from the Raspberry Pi kernel's drivers and gpiozero's issue tracker.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from gpiozero.pins import Factory

from flashjig.config import Config
from flashjig.errors import HardwareError
from flashjig.hardware.base import Hardware
from flashjig.hardware.usb import BY_PATH

HEADER_CHIP_LABELS = ("pinctrl-rp1", "pinctrl-bcm2711", "pinctrl-bcm2835")
# The USB host controllers each model's ports hang off, as /dev/serial/by-path/ names them:
# a Pi 4's VIA hub behind its PCIe controller, a Pi 5's two RP1 xHCI controllers (one per
# pair of ports), the DWC OTG controller of a 3 B+ and a Zero 2 W. From udev's path_id on
# each board; the Pi 5's checked on a Pi 5 (shared/platform-notes.md), the others from the
# boards' device trees (fd500000.pcie, 3f980000.usb), not checked here.
USB_CONTROLLERS = {
    "4": ("platform-fd500000.pcie-pci-0000:01:00.0-usb-",),
    "5": ("platform-xhci-hcd.0-usb-", "platform-xhci-hcd.1-usb-"),
    "3B+": ("platform-3f980000.usb-usb-",),
    "Zero2W": ("platform-3f980000.usb-usb-",),
}


class PiHardware(Hardware):
    def __init__(self, config: Config, *, pin_factory: Factory | None = None) -> None:
        self._ports = {s.name: s.serial for s in config.sockets}
        self.pin_factory = pin_factory if pin_factory is not None else _header_factory()

    def port(self, socket: str) -> str:
        return self._ports[socket]

    def absent_ports(self) -> dict[str, str]:
        return {
            socket: port
            for socket, port in self._ports.items()
            if "://" not in port and not Path(port).exists()
        }

    def close(self) -> None:
        if self.pin_factory is not None:
            self.pin_factory.close()


def usb_path_problems(config: Config) -> list[str]:
    """Sockets whose /dev/serial/by-path/ name is another model's: a config written for a
    Pi 4 on a Pi 5 (or the reverse) names USB ports that are not there."""
    model = config.station.pi_model
    controllers = USB_CONTROLLERS[model]
    problems = []
    for i, socket in enumerate(config.sockets):
        name = socket.serial.removeprefix(f"{BY_PATH}/")
        if name == socket.serial or name.startswith(controllers):
            continue
        others = [m for m, prefixes in USB_CONTROLLERS.items() if name.startswith(prefixes)]
        whose = f"a Raspberry Pi {' or '.join(others)} USB port" if others else "no USB port"
        problems.append(
            f"sockets[{i}].serial: {socket.serial} names {whose}, but station.pi_model is "
            f"{model!r} (its by-path names start {controllers[0]}...; flashjig usb-map "
            "writes them)"
        )
    return problems


def header_chip(labels: Mapping[int, str]) -> int:
    """The number of the GPIO chip that carries the 40-pin header, from each chip's label."""
    for number, label in sorted(labels.items()):
        if label in HEADER_CHIP_LABELS:
            return number
    found = ", ".join(f"gpiochip{n} {label!r}" for n, label in sorted(labels.items()))
    raise HardwareError(
        f"no GPIO chip labelled {' or '.join(HEADER_CHIP_LABELS)} (found: {found or 'none'}): "
        "is this a Raspberry Pi 3 B+, 4, 5 or Zero 2 W?"
    )


def _header_factory() -> Factory | None:
    """lgpio on the header's chip, its outputs claimed at their first level (an active-low
    power switch never blips on: ``flashjig.hardware.lgpio_pins``); None (gpiozero's own
    choice) where a factory was named in GPIOZERO_PIN_FACTORY or lgpio is not installed
    (not a Pi)."""
    if os.environ.get("GPIOZERO_PIN_FACTORY", "lgpio") != "lgpio":
        return None
    try:
        import lgpio

        from flashjig.hardware.lgpio_pins import LevelClaimFactory
    except ImportError:
        return None
    labels = {}
    for device in Path("/dev").glob("gpiochip*"):
        number = int(device.name.removeprefix("gpiochip"))
        handle = lgpio.gpiochip_open(number)
        try:
            labels[number] = lgpio.gpio_get_chip_info(handle)[3]  # status, lines, name, label
        finally:
            lgpio.gpiochip_close(handle)
    factory: Factory = LevelClaimFactory(chip=header_chip(labels))
    return factory
