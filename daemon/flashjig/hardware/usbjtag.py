"""Sockets where the module is its own USB device: an ESP32-C3 or ESP32-S3 on its
USB-Serial-JTAG port (Espressif's 303a:1001), with no strap lines to drive.

Such a socket is a USB port, named by udev's by-path link (``/dev/serial/by-path/...``),
which stays the same whichever ttyACM number the chip gets: every chip reset drops the
device off the bus and it comes back, maybe as another ttyACM (ESP-IDF, "USB Serial/JTAG
Controller Console"), so the station opens the path, never the number. A module is seated
while a tty is at that path (``UsbPresence``: udev makes and removes the link; it is
looked at every 50 ms, the same code in the simulation as on a Pi). It goes into the ROM
loader and back to its firmware by esptool's own USB resets (``UsbStraps``): the DTR/RTS
sequence the USB-Serial-JTAG peripheral turns into a chip reset with the boot mode forced
(``USBJTAGSerialReset``), and its hard reset over USB (``HardReset(uses_usb=True)``).

Not testable here (no USB-Serial-JTAG device): that the peripheral answers esptool's
sequences, and its timing; from esptool 5.6's reset.py and esp-pylib's serial_reset.py.
A blank chip boot-loops on its empty flash and may not come up in the loader by itself
(esp-idf #12110); the pipeline then says that it needs its boot line.
"""

from __future__ import annotations

import abc
import os
import threading
import time
from collections.abc import Callable

import serial
from esptool.reset import HardReset, USBJTAGSerialReset

POLL_S = 0.05
REENUMERATE_S = 3.0  # how long a chip reset may keep the device off the bus


class UsbPort(abc.ABC):
    """The USB side of a native-USB socket; the simulation swaps in its own, as a pin
    factory is swapped."""

    def __init__(self, path: str) -> None:
        self.path = path

    def present(self) -> bool:
        return os.path.exists(self.path)

    def wait_present(self, timeout: float = REENUMERATE_S) -> bool:
        """Wait for the device to be back on the bus after a reset."""
        deadline = time.monotonic() + timeout
        while not self.present():
            if time.monotonic() > deadline:
                return False
            time.sleep(POLL_S)
        return True

    @abc.abstractmethod
    def reset(self, *, download: bool) -> None:
        """Reset the chip into its ROM loader (``download``) or into its firmware."""


class EsptoolUsbPort(UsbPort):
    """A real USB-Serial-JTAG port, reset by esptool's own reset strategies."""

    def reset(self, *, download: bool) -> None:
        if not self.present():
            return
        try:
            with serial.Serial(self.path, 115200) as port:
                if download:
                    USBJTAGSerialReset(port)()
                else:
                    HardReset(port, uses_usb=True)()
        except (serial.SerialException, OSError):
            pass  # the device went as the chip reset: what a reset over USB does


class UsbPresence:
    """Is a module seated in a native-USB socket? Shaped as gpiozero's input devices
    (``is_active``, ``when_activated``, ``when_deactivated``), so a socket treats it as
    the detect switch of a socket with strap lines."""

    def __init__(self, port: UsbPort) -> None:
        self.port = port
        self.when_activated: Callable[[], None] | None = None
        self.when_deactivated: Callable[[], None] | None = None
        self._active = port.present()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="usb-presence", daemon=True)
        self._thread.start()

    @property
    def is_active(self) -> bool:
        return self._active

    def wait_for_active(self, timeout: float | None = None) -> bool:
        return self._wait(True, timeout)

    def wait_for_inactive(self, timeout: float | None = None) -> bool:
        return self._wait(False, timeout)

    def _wait(self, active: bool, timeout: float | None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._active != active:
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(POLL_S)
        return True

    def _watch(self) -> None:
        """Seated as soon as the device is there; taken out once it has been gone for
        longer than a reset keeps it off the bus (every flash resets it twice)."""
        gone_since: float | None = None
        while not self._stop.wait(POLL_S):
            now = self.port.present()
            if now:
                gone_since = None
            elif self._active:
                gone_since = gone_since or time.monotonic()
                if time.monotonic() - gone_since < REENUMERATE_S:
                    continue
            if now == self._active:
                continue
            self._active = now
            callback = self.when_activated if now else self.when_deactivated
            if callback is not None:
                callback()

    def close(self) -> None:
        self._stop.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=1)


class UsbStraps:
    """The strapping of a native-USB socket, through resets over USB: what ``ModuleLines``
    does with the boot and EN lines of a socket that has them."""

    reenumerates = True

    def __init__(self, port: UsbPort) -> None:
        self.port = port

    def enter_bootloader(self, attempt: int = 1) -> None:
        # esptool's USB-Serial-JTAG reset has no delay to grow (USBJTAGSerialReset).
        self.port.reset(download=True)
        self.port.wait_present()

    def run_firmware(self) -> None:
        self.port.reset(download=False)

    def hold_in_reset(self) -> None:
        """Nothing holds a native-USB module in reset: there is no EN line."""

    def why_silent(self) -> str:
        if not self.port.present():
            return f"no USB device at {self.port.path}: is a module seated?"
        return (
            "its USB device is there, but the ROM loader did not answer after a USB reset: "
            "a blank ESP32-C3/S3 boot-loops and does not come up in download mode by itself; "
            "seat it with its boot button (GPIO9 on a C3, GPIO0 on an S3) held, or flash it "
            "once in a socket with strap lines"
        )

    def close(self) -> None:
        """Nothing to let go: the port is opened only while it is used."""
