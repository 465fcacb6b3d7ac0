"""The real thing: a Raspberry Pi's GPIO through gpiozero's default pin factory, and each
socket's USB-serial adapter at the path its config names."""

from __future__ import annotations

from pathlib import Path

from flashjig.config import Config
from flashjig.hardware.base import Hardware


class PiHardware(Hardware):
    def __init__(self, config: Config) -> None:
        self._ports = {s.name: s.serial for s in config.sockets}

    def port(self, socket: str) -> str:
        return self._ports[socket]

    def absent_ports(self) -> dict[str, str]:
        return {
            socket: port
            for socket, port in self._ports.items()
            if "://" not in port and not Path(port).exists()
        }

    def close(self) -> None:
        """Nothing to let go: the station's devices close their own pins."""
