"""What the ROM prints and runs when the chip comes out of reset.

The ROM prints its boot log (at 74880 baud on an ESP8266's 26 MHz crystal, 115200 on the
ESP32s), ``boot mode:(1,x)`` / ``boot:0x3``, ``0x5`` for UART download, then loads the
image at the chip's bootloader offset (0x0, 0x1000 on an ESP32) if its magic, chip id
(ESP32s: the extended header), segments and checksum hold. What the firmware then prints
cannot be emulated by running it, so the firmware tells us: images built by
``flashjig.firmware`` carry an app descriptor (``FJAPP``, JSON with ``baud``, a NUL, then
the banner as a NUL-terminated C string, so a per-unit value patched into it reads as
firmware would read it); other images get the module's configured default.
"""

import json
import struct
from dataclasses import dataclass

from flashjig.emulator.chips import Chip
from flashjig.emulator.flashchip import FlashChip

IMAGE_MAGIC = 0xE9
CHECKSUM_SEED = 0xEF
APP_MARKER = b"FJAPP"
MAX_SEGMENTS = 16


@dataclass(frozen=True)
class AppBehaviour:
    """How the firmware in flash behaves once it runs: its baud and what it prints."""

    baud: int = 115200
    banner: str = "\r\nready\r\n"


def rom_banner(chip: Chip, download: bool, cause: int = 2) -> bytes:
    """Cause 1 is power-on, 2 an external reset on EN, 4 the watchdog."""
    return chip.boot_log(download, cause).encode()


def load_image(flash: FlashChip, chip: Chip) -> tuple[bytes, bool]:
    """Walk the boot image as the ROM does: its log, and whether it may run."""
    start = chip.bootloader_offset
    magic, count = struct.unpack("<BB", flash.read(start, 2))
    if magic != IMAGE_MAGIC or count == 0 or count > MAX_SEGMENTS:
        return chip.no_image_log.encode(), False
    pos = start + 8
    if chip.extended_header:
        (chip_id,) = struct.unpack("<H", flash.read(pos + 4, 2))
        if chip_id != chip.chip_id:
            return chip.no_image_log.encode(), False
        pos += 16
    log = []
    checksum = CHECKSUM_SEED
    for _ in range(count):
        addr, size = struct.unpack("<II", flash.read(pos, 8))
        log.append(chip.load_line.format(addr=addr, size=size))
        if size > flash.size - pos - 8:
            return ("".join(log) + chip.no_image_log).encode(), False
        for b in flash.read(pos + 8, size):
            checksum ^= b
        pos += 8 + size
    stored = flash.read(pos + 15 - pos % 16, 1)[0]
    if not chip.extended_header:
        log.append(f"tail {size % 16}\r\nchksum 0x{stored:02x}\r\ncsum 0x{checksum:02x}\r\n")
    if stored != checksum:
        log.append(chip.checksum_error_log)
        return "".join(log).encode(), False
    return "".join(log).encode(), True


def app_behaviour(flash: FlashChip, default: AppBehaviour) -> AppBehaviour:
    """The descriptor embedded by flashjig's firmware builder, else the default."""
    content = flash.read(0, flash.size)
    at = content.find(APP_MARKER + b"{")
    if at < 0:
        return default
    end = content.find(b"\x00", at)
    banner_end = content.find(b"\x00", end + 1)
    try:
        info = json.loads(content[at + len(APP_MARKER) : end])
        banner = content[end + 1 : banner_end].decode("utf-8", "replace")
        return AppBehaviour(baud=int(info["baud"]), banner=banner)
    except (ValueError, KeyError, TypeError):
        return default
