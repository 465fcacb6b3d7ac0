"""Every device of one socket, built from its config in one place: the strap lines (boot,
EN), the detect switch, the power switch and the light; on a native-USB socket, the resets
over USB and the USB device's presence in their place. The station's sockets, ``flashjig
flash``, ``flashjig probe`` and the tests all take a socket's lines from here."""

from __future__ import annotations

import time
from dataclasses import dataclass

from gpiozero import DigitalInputDevice, DigitalOutputDevice, GPIODevice
from gpiozero.pins import Factory

from flashjig.config import SocketConfig
from flashjig.hardware.base import Hardware
from flashjig.hardware.leds import SocketLight
from flashjig.hardware.pins import StrapLine, power_switch
from flashjig.hardware.strapping import ModuleLines, Straps
from flashjig.hardware.usbjtag import UsbPort, UsbPresence, UsbStraps

POWER_OFF_S = 0.5  # long enough for the module's 3.3 V to collapse
POWER_ON_S = 0.2  # supply and EN pull-up settle before strapping


@dataclass
class SocketLines:
    straps: Straps
    detect: DigitalInputDevice | UsbPresence | None  # active while a module is seated
    power: DigitalOutputDevice | None  # on: the socket is powered
    light: SocketLight

    @classmethod
    def build(
        cls,
        config: SocketConfig,
        *,
        pin_factory: Factory | None = None,
        usb: UsbPort | None = None,
    ) -> SocketLines:
        """Claim the socket's pins (all or none: what was claimed is let go on a failure).
        A native-USB socket takes its USB port from ``usb``."""
        if config.native_usb:
            assert usb is not None, "a native-USB socket's lines need its USB port"
            light = SocketLight(config.led, pin_factory=pin_factory)
            return cls(UsbStraps(usb), UsbPresence(usb), None, light)
        assert config.boot is not None and config.en is not None  # the loader saw to it
        made: list[GPIODevice | SocketLight] = []
        try:
            boot = StrapLine(config.boot, pin_factory=pin_factory)
            made.append(boot)
            en = StrapLine(config.en, pin_factory=pin_factory)
            made.append(en)
            detect = None
            if config.detect is not None:
                # The switch closes to ground when a module is seated: active low.
                detect = DigitalInputDevice(config.detect, pull_up=True, pin_factory=pin_factory)
                made.append(detect)
            power = power_switch(
                config.power, active_low=config.power_active_low, pin_factory=pin_factory
            )
            if power is not None:
                made.append(power)
            light = SocketLight(config.led, pin_factory=pin_factory)
        except BaseException:
            for device in reversed(made):
                device.close()
            raise
        return cls(ModuleLines(boot, en, config.chip), detect, power, light)

    @classmethod
    def on(cls, hardware: Hardware, config: SocketConfig) -> SocketLines:
        """The socket's lines on a station's hardware: its pins from the hardware's pin
        factory, a native-USB socket's port from the hardware."""
        usb = hardware.usb_port(config.name) if config.native_usb else None
        return cls.build(config, pin_factory=hardware.pin_factory, usb=usb)

    def power_on(self, *, settle: bool = True) -> None:
        """Power the socket with its module held in reset, so that it runs none of the
        firmware it came with; with ``settle``, wait for the supply to come up."""
        if self.power is None:
            return
        self.straps.hold_in_reset()
        self.power.on()
        if settle:
            time.sleep(POWER_ON_S)

    def close(self) -> None:
        self.straps.close()
        self.light.close()
        for device in (self.power, self.detect):
            if device is not None:
                device.close()
