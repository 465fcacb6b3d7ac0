"""Simulated USB-serial adapters for ``flashjig usb-map --simulate``: a directory stands in
for /dev/serial/by-path, and plugging socket N's adapter into hub port N makes its link
appear there, named as udev names it on the station's Pi model."""

from __future__ import annotations

import tempfile
from pathlib import Path

from flashjig.hardware.pi import USB_CONTROLLERS

# Where the hub sits on each model's first USB controller (hw/README.md's layout): a Pi 4
# and a 3 B+ have it behind their own hub, in port 1-1.1; a Pi 5 and a Zero 2 W in port 1.
HUB_PORTS = {"4": "0:1.1", "5": "0:1", "3B+": "0:1.1", "Zero2W": "0:1"}


class SimulatedAdapters:
    def __init__(self, pi_model: str) -> None:
        self.hub = USB_CONTROLLERS[pi_model][0] + HUB_PORTS[pi_model]
        self._dir = tempfile.TemporaryDirectory(prefix="flashjig-by-path-")
        self.directory = Path(self._dir.name)

    def plug(self, hub_port: int) -> str:
        """Plug an adapter into ``hub_port``; its by-path name."""
        name = f"{self.hub}.{hub_port}:1.0-port0"
        (self.directory / name).symlink_to(f"/dev/ttyUSB{hub_port - 1}")
        return name

    def close(self) -> None:
        self._dir.cleanup()
