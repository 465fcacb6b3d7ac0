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
PARTITION_TABLE = 0x8000  # where IDF's bootloader reads the partition table
PARTITION_MAGIC = 0x50AA
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
    """Boot as the chip does: its log, and whether the firmware runs. The ROM takes the
    image at the bootloader offset; on the ESP32s that is IDF's second stage, which reads
    the partition table and boots the first app partition's image the same way."""
    log, ok = _walk(flash, chip, chip.bootloader_offset)
    if not ok or not chip.extended_header:
        return log, ok
    app = first_app_partition(flash)
    if app is None:
        return log + b"E (98) boot: No bootable app partitions in the partition table\r\n", False
    app_log, ok = _walk(flash, chip, app)
    return log + f"I (85) boot: Loaded app from partition at offset {app:#x}\r\n".encode() + (
        app_log
    ), ok


def first_app_partition(flash: FlashChip) -> int | None:
    """The offset of the first app partition (type 0) in the table at 0x8000, if any."""
    for row in range(PARTITION_TABLE, PARTITION_TABLE + 0xC00, 32):
        magic, kind, _subtype, offset, _size = struct.unpack("<HBBII", flash.read(row, 12))
        if magic != PARTITION_MAGIC:
            return None
        if kind == 0:
            return offset
    return None


def _walk(flash: FlashChip, chip: Chip, start: int) -> tuple[bytes, bool]:
    """One image as the ROM (or IDF's bootloader) checks it: magic, chip id, checksum."""
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
    # The checksum is the last byte of the 16-byte block the segments end in.
    stored = flash.read(start + (pos - start) // 16 * 16 + 15, 1)[0]
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
