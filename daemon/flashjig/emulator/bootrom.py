"""What the ESP8266 ROM prints and runs when the chip comes out of reset.

The ROM prints its boot log at 74880 baud (26 MHz crystal), ``boot mode:(1,x)`` for UART
download and ``(3,x)`` for flash boot, then loads the image at flash offset 0 if its
magic, segments and checksum hold. What the firmware then prints cannot be emulated by
running it, so the firmware tells us: images built by ``flashjig.firmware`` carry an
app descriptor (``FJAPP``, JSON with ``baud``, a NUL, then the banner as a NUL-terminated
C string, so a per-unit value patched into it reads as firmware would read it); other
images get the module's configured default.
"""

import json
import struct
from dataclasses import dataclass

from flashjig.emulator.flashchip import FlashChip

ROM_BAUD = 74880
IMAGE_MAGIC = 0xE9
CHECKSUM_SEED = 0xEF
APP_MARKER = b"FJAPP"
MAX_SEGMENTS = 16


@dataclass(frozen=True)
class AppBehaviour:
    """How the firmware in flash behaves once it runs: its baud and what it prints."""

    baud: int = 115200
    banner: str = "\r\nready\r\n"


def rom_banner(download: bool, cause: int = 2) -> bytes:
    """``rst cause`` 1 is power-on, 2 an external reset on EN."""
    mode = 1 if download else 3
    text = f"\r\n ets Jan  8 2013,rst cause:{cause}, boot mode:({mode},6)\r\n\r\n"
    if download:
        text += "waiting for host\r\n"
    return text.encode()


def load_image(flash: FlashChip) -> tuple[bytes, bool]:
    """Walk the image at offset 0 as the ROM does: its log, and whether it may run."""
    magic, count = struct.unpack("<BB", flash.read(0, 2))
    if magic != IMAGE_MAGIC or count == 0 or count > MAX_SEGMENTS:
        return b"ets_main.c \r\n", False
    log = []
    pos = 8
    checksum = CHECKSUM_SEED
    for _ in range(count):
        addr, size = struct.unpack("<II", flash.read(pos, 8))
        if size > flash.size - pos - 8:
            log.append(f"load 0x{addr:08x}, len {size}, room 16 \r\n")
            return ("".join(log) + "ets_main.c \r\n").encode(), False
        data = flash.read(pos + 8, size)
        for b in data:
            checksum ^= b
        log.append(f"load 0x{addr:08x}, len {size}, room 16 \r\n")
        pos += 8 + size
    stored = flash.read(pos + 15 - pos % 16, 1)[0]
    log.append(f"tail {size % 16}\r\nchksum 0x{stored:02x}\r\ncsum 0x{checksum:02x}\r\n")
    if stored != checksum:
        log.append("csum err\r\nets_main.c \r\n")
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
