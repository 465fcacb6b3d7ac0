"""An emulated ESP8266 module: ROM bootloader, flasher stub and SPI flash.

Layered like esptool itself: ``slip`` frames bytes, ``flashchip`` models the SPI NOR
flash, ``loader`` answers the ROM and stub commands, ``bootrom`` decides what the chip
does when EN rises, and ``module`` ties them to a pseudo terminal and two strapping
pins. The real esptool, unchanged, is the client that proves it faithful.
"""

from flashjig.emulator.faults import Faults
from flashjig.emulator.flashchip import FlashChip
from flashjig.emulator.module import EmulatedModule

__all__ = ["EmulatedModule", "Faults", "FlashChip"]
