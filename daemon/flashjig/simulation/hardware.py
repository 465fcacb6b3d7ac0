"""Simulated station hardware: gpiozero mock pins, and emulated modules that can be put
into and taken out of the sockets. The station code above this sees pins from a pin
factory and a serial device path, as on a Pi.

A socket's detect switch, GPIO0, EN and power lines are mock pins; a module put in a
socket is wired to them (or, for a fault test, to other pins) and gets a fresh pseudo
terminal, as a new module on a USB adapter would look to the station.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gpiozero.pins import PinInfo
from gpiozero.pins.mock import MockFactory, MockPin

from flashjig.config import AUTO, Chip, Config, SocketConfig
from flashjig.config.sizes import BYTES as SIZES
from flashjig.emulator import EmulatedModule, Faults, FlashChip
from flashjig.emulator.chips import CHIPS
from flashjig.emulator.faults import named_fault
from flashjig.emulator.module import PulledDownPin, PulledUpPin, StrapPin
from flashjig.emulator.uart import AUTOBAUD_MAX
from flashjig.errors import HardwareError
from flashjig.hardware.base import Hardware, Operator
from flashjig.hardware.usbjtag import UsbPort

PRESS_S = 0.15  # a short press on the simulated button
USB_ENUMERATION_S = 0.2  # a USB device's time from reset to being a tty again


class SwitchPin(MockPin):
    """An input wired to a switch to ground (detect switch, button): while the switch is
    closed no pull-up lifts the line."""

    def __init__(self, factory: MockFactory, info: PinInfo) -> None:
        self.closed = False
        super().__init__(factory, info)

    def _set_pull(self, value: str) -> None:
        super()._set_pull(value)
        if self.closed:
            self.drive_low()

    def close_switch(self) -> None:
        self.closed = True
        if self.function == "input":
            self.drive_low()

    def open_switch(self) -> None:
        self.closed = False
        if self.function == "input" and self.pull == "up":
            self.drive_high()


@dataclass(frozen=True)
class ModuleSpec:
    """What goes into a simulated socket, and how it is wired."""

    flash_size: str | None = None  # None: 1MB on an ESP-01S, 4MB on the ESP32s
    claimed_size: str | None = None
    chip: Chip | None = None  # None: what the socket holds (an ESP8266 in an auto one)
    # Native USB: seated with its boot button held, into the ROM loader. None: held, as the
    # person at the jig does with a blank C3 (it boot-loops otherwise, see README).
    boot_held: bool | None = None
    boot: str | None = None  # the boot strap's pin; None: the pin the config names
    en: str | None = None
    faults: Faults = field(default_factory=Faults)
    # The serial line (flashjig.emulator.uart): the ROM's auto-baud range, whether a rate
    # above it sticks until reset, the adapter's highest reliable rate (None: no limit),
    # and an ESP32 ROM's crystal estimate error.
    autobaud_max: int = AUTOBAUD_MAX
    autobaud_sticky: bool = False
    adapter_max_baud: int | None = None
    rom_xtal_error: float = 0.0
    adapter: str | None = None  # the socket's USB adapter from now on (None: "sim:<socket>")


class SimulatedHardware(Hardware):
    """Mock pins for a config's sockets; modules inserted now (``modules``) or later."""

    pin_factory: MockFactory

    def __init__(
        self,
        config: Config,
        *,
        modules: dict[str, ModuleSpec] | None = None,
        insert_all: bool = True,
        line_rate: bool = False,
    ) -> None:
        self.config = config
        self.line_rate = line_rate
        self.pin_factory = MockFactory()
        self.modules: dict[str, EmulatedModule] = {}
        self._serial = itertools.count(1)
        self._lock = threading.Lock()
        self._adapters: dict[str, str] = {}  # socket -> the adapter a module's spec named
        # Native-USB sockets: udev's by-path links, made here as the module's tty comes.
        self._usb_dir: Path | None = None
        if any(socket.native_usb for socket in config.sockets):
            self._usb_dir = Path(tempfile.mkdtemp(prefix="flashjig-usb-"))
        if config.station.button is not None:
            self.pin_factory.pin(config.station.button, pin_class=SwitchPin)
        for socket in config.sockets:
            # Pins are made here first, with the module-side pull-ups and the switches, so
            # the station's devices get these same pins.
            for strap in (socket.boot, socket.en):
                if strap is not None:
                    self.pin_factory.pin(strap, pin_class=StrapPin)
            if socket.power is not None:
                # P-MOSFET gate driven directly: pulled up (off); through an NPN: its base
                # pulled down (off). Either way the socket is off at rest.
                gate = PulledUpPin if socket.power_active_low else PulledDownPin
                self.pin_factory.pin(socket.power, pin_class=gate)
            if socket.detect is not None:
                self.pin_factory.pin(socket.detect, pin_class=SwitchPin)
            if socket.power is not None:
                power = self.pin_factory.pin(socket.power)
                power.listeners.append(self._power_listener(socket))
        specs = modules or {}
        if insert_all or specs:
            for socket in config.sockets:
                if insert_all or socket.name in specs:
                    self.insert(socket.name, specs.get(socket.name))

    def _socket(self, name: str) -> SocketConfig:
        return self.config.socket(name)

    def insert(self, name: str, spec: ModuleSpec | None = None) -> EmulatedModule:
        """Seat a new module (fresh flash, its own MAC) and close the detect switch."""
        socket = self._socket(name)
        spec = spec or ModuleSpec()
        held = spec.chip or socket.chip
        if held == AUTO:
            held = Chip.ESP32C3 if socket.native_usb else Chip.ESP8266
        if held not in CHIPS:
            raise HardwareError(f"the emulator has no {held}: it is one of {', '.join(CHIPS)}")
        chip = CHIPS[held]
        size = spec.flash_size or ("1MB" if held == Chip.ESP8266 else "4MB")
        with self._lock:
            if name in self.modules:
                raise HardwareError(f"{name} already holds a module")
            boot = en = None
            if not socket.native_usb:
                boot = self.pin_factory.pin(spec.boot or socket.boot, pin_class=StrapPin)
                en = self.pin_factory.pin(spec.en or socket.en, pin_class=StrapPin)
            flash = FlashChip(
                SIZES[size],
                claimed_size=SIZES[spec.claimed_size] if spec.claimed_size else None,
            )
            module = EmulatedModule(
                f"{self.config.station.id}-{name}-{next(self._serial)}",
                flash,
                chip=chip,
                boot=boot,
                en=en,
                line_rate=self.line_rate,
                faults=spec.faults,
                powered=self._powered(socket),
                native_usb=socket.native_usb,
                boot_held=spec.boot_held is not False,
                autobaud_max=spec.autobaud_max,
                autobaud_sticky=spec.autobaud_sticky,
                adapter_max_baud=spec.adapter_max_baud,
                rom_xtal_error=spec.rom_xtal_error,
            )
            self.modules[name] = module
            if spec.adapter is not None:
                self._adapters[name] = spec.adapter
        if socket.native_usb:
            module.on_reenumerate.append(lambda device: self._relink(name, module, device))
            self._relink(name, module, module.device)
        if socket.detect is not None:
            self.pin_factory.pin(socket.detect).close_switch()
        return module

    def remove(self, name: str) -> None:
        """Open the detect switch and take the module away: from now on it is silent."""
        socket = self._socket(name)
        with self._lock:
            module = self.modules.pop(name, None)
        if module is None:
            raise HardwareError(f"{name} is empty")
        if socket.detect is not None:
            self.pin_factory.pin(socket.detect).open_switch()
        if socket.native_usb:
            Path(self.port(name)).unlink(missing_ok=True)
        module.pull()
        module.close()
        module.flash.close()

    def press(self, hold: float = PRESS_S) -> None:
        """Press the station button for ``hold`` seconds."""
        if self.config.station.button is None:
            raise HardwareError("this station has no button")
        button = self.pin_factory.pin(self.config.station.button)
        button.close_switch()
        time.sleep(hold)
        button.open_switch()

    def adapter(self, socket: str) -> str | None:
        return self._adapters.get(socket, f"sim:{socket}")

    def port(self, socket: str) -> str:
        config = self._socket(socket)
        if config.native_usb:
            assert self._usb_dir is not None  # made for the config's native-USB sockets
            index = self.config.sockets.index(config) + 1
            return str(self._usb_dir / f"platform-sim-usb-0:1.{index}:1.0")
        module = self.modules.get(socket)
        # An empty socket's adapter is still there: a path that answers nothing.
        return module.device if module is not None else "/dev/null"

    def usb_port(self, socket: str) -> UsbPort:
        return _SimulatedUsbPort(self, socket)

    def _relink(self, name: str, module: EmulatedModule, device: str) -> None:
        """udev's link for a native-USB module's new tty: gone at once as the chip resets,
        back once the new device has enumerated."""
        link = Path(self.port(name))
        link.unlink(missing_ok=True)

        def enumerated() -> None:
            with self._lock:
                if self.modules.get(name) is module and module.device == device:
                    link.unlink(missing_ok=True)
                    link.symlink_to(device)

        timer = threading.Timer(USB_ENUMERATION_S, enumerated)
        timer.daemon = True
        timer.start()

    def _powered(self, socket: SocketConfig) -> bool:
        if socket.power is None:
            return True
        state = bool(self.pin_factory.pin(socket.power).state)
        return state != socket.power_active_low

    @property
    def operator(self) -> Operator:
        return _Operator(self)

    def _power_listener(self, socket: SocketConfig) -> Callable[[MockPin, bool], None]:
        def changed(pin: MockPin, high: bool) -> None:
            module = self.modules.get(socket.name)
            if module is not None:
                module.set_power(high != socket.power_active_low)

        return changed

    def close(self) -> None:
        for name in list(self.modules):
            module = self.modules.pop(name)
            module.close()
            module.flash.close()
        self.pin_factory.close()
        if self._usb_dir is not None:
            shutil.rmtree(self._usb_dir, ignore_errors=True)

    def __enter__(self) -> SimulatedHardware:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _SimulatedUsbPort(UsbPort):
    """A native-USB socket's port on simulated hardware: esptool's USB resets reach the
    emulated module's USB-Serial-JTAG peripheral (a pty carries no DTR or RTS)."""

    def __init__(self, hardware: SimulatedHardware, socket: str) -> None:
        super().__init__(hardware.port(socket))
        self._hardware = hardware
        self._socket = socket

    def reset(self, *, download: bool) -> None:
        module = self._hardware.modules.get(self._socket)
        if module is not None:
            module.usb_reset(download=download)


class _Operator:
    """``flashjig ctl insert|remove|press`` on simulated hardware: a module with a named
    fault (flashjig.emulator.faults) seated, taken out, the button pressed."""

    def __init__(self, hardware: SimulatedHardware) -> None:
        self.hardware = hardware

    def insert(self, socket: str, fault: str) -> str:
        module = self.hardware.insert(socket, ModuleSpec(faults=named_fault(fault)))
        return module.mac_text

    def remove(self, socket: str) -> None:
        self.hardware.remove(socket)

    def press(self, hold: float) -> None:
        self.hardware.press(hold)
