"""What a station runs on, in the spirit of gpiozero's pin factories: a ``Hardware`` gives
the pin factory the station's gpiozero devices use and the serial port of each socket.
The station never knows whether it runs on a Pi with real modules (``PiHardware``) or on
the simulation (``flashjig.simulation``); it gets one handed in."""

from __future__ import annotations

import abc
from typing import Protocol

from gpiozero.pins import Factory

from flashjig.hardware.usbjtag import EsptoolUsbPort, UsbPort


class Operator(Protocol):
    """Someone the station can ask to act at the jig: the simulation's stand-in for a
    person, driven by ``flashjig ctl insert|remove|press``."""

    def insert(self, socket: str, fault: str) -> str:
        """Seat a module (with a named fault); its MAC."""
        ...

    def remove(self, socket: str) -> None: ...

    def press(self, hold: float) -> None: ...


class Hardware(abc.ABC):
    """Where a station's pins and serial ports come from."""

    #: None: gpiozero's default factory (lgpio on a Pi)
    pin_factory: Factory | None = None

    @abc.abstractmethod
    def port(self, socket: str) -> str:
        """The serial device of a socket's USB adapter, as esptool opens it."""

    def usb_port(self, socket: str) -> UsbPort:
        """A native-USB socket's USB port (its reset and presence), at ``port(socket)``."""
        return EsptoolUsbPort(self.port(socket))

    def adapter(self, socket: str) -> str | None:
        """Which USB adapter serves a socket now (None: not known); a socket learns its
        safe rates per adapter, so a swapped one starts afresh."""
        return None

    def absent_ports(self) -> dict[str, str]:
        """Socket -> serial device, for the sockets whose device is not there (an adapter
        unplugged); the station still starts, and says so."""
        return {}

    @property
    def operator(self) -> Operator | None:
        """A stand-in for the person at the jig, where there is one (simulated hardware)."""
        return None

    @abc.abstractmethod
    def close(self) -> None:
        """Let go of what the hardware holds."""
