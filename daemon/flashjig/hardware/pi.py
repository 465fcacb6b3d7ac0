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
from flashjig.hardware.usb import BY_PATH, adapter_identity

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
# Each model's USB-A ports, as the start of the ID_PATH of a USB 2 device plugged into one
# (a serial adapter, or the hub it is behind: then ``.<hub port>`` follows). Pi 4: its four
# sockets are ports 1-1.1 to 1-1.4 of the VIA hub behind the VL805 (hw/README.md; a USB 2
# device never shows on its USB 3 root hub). Pi 5: RP1 has two xHCI controllers (the dwc3
# nodes usb@200000 and usb@300000 of raspberrypi/linux's rp1.dtsi; udev's path_id names each
# by its platform device, xhci-hcd.0 and xhci-hcd.1), and each has a USB 2 root hub of two
# ports and a USB 3 root hub of one (``lsusb -t`` on a Pi 5: "xhci-hcd/2p, 480M" and
# "xhci-hcd/1p, 5000M", geerlingguy/sbc-reviews issue 21): one blue and one black socket per
# controller. A USB 2 adapter in either socket comes up on that controller's USB 2 root hub,
# port 1 or 2; path_id writes the chain as ``usb-0:<port>...`` (the bus number dropped, and
# the root hub's USB revision too, for compatibility: systemd's path_id.c,
# add_id_with_usb_revision). So ``usb-0:1.N`` names a hub in port 1 of xhci-hcd.0 only: the
# four ports are xhci-hcd.0 and xhci-hcd.1, each port 1 and 2. Which socket is which on the
# board is for ``lsusb -t`` or ``flashjig usb-map`` to show; not checked here. The 3 B+ and
# the Zero 2 W have no table (their ports not checked): only their controller is.
USB_PORTS = {
    "4": tuple(f"{USB_CONTROLLERS['4'][0]}0:1.{port}" for port in range(1, 5)),
    "5": tuple(
        f"platform-xhci-hcd.{controller}-usb-0:{port}" for controller in (0, 1) for port in (1, 2)
    ),
}


class PiHardware(Hardware):
    def __init__(self, config: Config, *, pin_factory: Factory | None = None) -> None:
        self._ports = {s.name: s.serial for s in config.sockets}
        self.pin_factory = pin_factory if pin_factory is not None else _header_factory()

    def port(self, socket: str) -> str:
        return self._ports[socket]

    def adapter(self, socket: str) -> str | None:
        return adapter_identity(self._ports[socket])

    def absent_ports(self) -> dict[str, str]:
        return {
            socket: port
            for socket, port in self._ports.items()
            if "://" not in port and not Path(port).exists()
        }

    def close(self) -> None:
        if self.pin_factory is not None:
            self.pin_factory.close()


def usb_port(name: str, model: str) -> str | None:
    """Which of a model's USB-A ports (``USB_PORTS``) a by-path name or ID_PATH hangs off;
    None when it is under none of them, or the model has no port table."""
    for port in USB_PORTS.get(model, ()):
        rest = name.removeprefix(port)
        if rest != name and rest[:1] in (".", ":"):  # behind a hub, or the adapter itself
            return port
    return None


def usb_path_problems(config: Config) -> list[str]:
    """Sockets whose /dev/serial/by-path/ name is not one of the model's USB ports: a config
    written for a Pi 4 on a Pi 5 (or the reverse) names USB ports that are not there."""
    model = config.station.pi_model
    controllers = USB_CONTROLLERS[model]
    problems = []
    for i, socket in enumerate(config.sockets):
        name = socket.serial.removeprefix(f"{BY_PATH}/")
        if name == socket.serial:
            continue
        field = f"sockets[{i}].serial"
        if name.startswith(controllers):
            if model in USB_PORTS and usb_port(name, model) is None:
                problems.append(
                    f"{field}: {socket.serial} is under none of the Raspberry Pi {model}'s "
                    f"USB ports ({', '.join(USB_PORTS[model])}; flashjig usb-map writes them)"
                )
            continue
        others = [m for m, prefixes in USB_CONTROLLERS.items() if name.startswith(prefixes)]
        whose = f"a Raspberry Pi {' or '.join(others)} USB port" if others else "no USB port"
        problems.append(
            f"{field}: {socket.serial} names {whose}, but station.pi_model is "
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
