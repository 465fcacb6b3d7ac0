"""An emulated ESP module, an ESP8266, ESP32, ESP32-C3 or ESP32-S3: ROM bootloader,
flasher stub and SPI flash.

Layered like esptool itself: ``chips`` holds what differs between the four, as data (from
esptool's target classes), ``slip`` frames bytes, ``flashchip`` models the SPI NOR flash,
``loader`` answers the ROM and stub commands, ``bootrom`` decides what the chip does when
EN rises, and ``module`` ties them to a pseudo terminal and two strapping pins. The real
esptool, unchanged, is the client that proves it faithful.

The package's names are imported when first used (PEP 562): the command line takes the
fault names from ``faults`` for its options without loading an emulator it does not run.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flashjig.emulator.faults import Faults
    from flashjig.emulator.flashchip import FlashChip
    from flashjig.emulator.module import EmulatedModule

__all__ = ["EmulatedModule", "Faults", "FlashChip"]
_HOMES = {
    "EmulatedModule": "flashjig.emulator.module",
    "Faults": "flashjig.emulator.faults",
    "FlashChip": "flashjig.emulator.flashchip",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name]), name)
