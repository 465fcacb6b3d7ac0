"""Firmware-like ESP8266 images for the demo, the tests and the benchmarks.

No firmware can be downloaded here, so we build one: a real ESP8266 "version 1" image
(header, IRAM and DRAM segments, checksum) made with esptool's own image classes, as the
NONOS SDK lays it out: the ROM-loaded part at 0x0 and the flash-mapped irom0 text at
0x10000. The contents are synthetic machine code drawn from a small instruction
vocabulary with skewed frequencies, so it compresses about as well as real Xtensa code,
plus an app descriptor telling the emulator what the firmware prints when it runs.
"""

import json
import random

from esptool.bin_image import ESP8266ROMFirmwareImage, ImageSegment

from flashjig.emulator.bootrom import APP_MARKER

IRAM = 0x40100000
DRAM = 0x3FFE8000
IROM_OFFSET = 0x10000
ENTRY = 0x40100004


def _code(rng: random.Random, length: int) -> bytes:
    """Bytes shaped like compiled code: a vocabulary of 2- and 3-byte instructions with
    Zipf-like frequencies and some literal words; zlib takes it to about 60 %, as real firmware."""
    vocab = [rng.randbytes(rng.choice((2, 3, 3, 3))) for _ in range(1500)]
    weights = [1 / (i + 1) for i in range(len(vocab))]
    out = bytearray()
    while len(out) < length:
        out += b"".join(rng.choices(vocab, weights, k=256))
        out += rng.randbytes(rng.choice((4, 8, 12, 16)))  # literal pools
    return bytes(out[:length])


def build_firmware(
    size: int = 0x100000,
    *,
    banner: str = "\r\nflashjig demo firmware 1.0\r\nready\r\n",
    baud: int = 115200,
    seed: int = 8266,
) -> bytes:
    """A single image file to write at 0x0: the boot image, padding, then irom0 text."""
    if size < IROM_OFFSET + 0x1000:
        raise ValueError(f"firmware size must be at least {IROM_OFFSET + 0x1000:#x} bytes")
    rng = random.Random(seed)
    descriptor = (
        APP_MARKER + json.dumps({"baud": baud}).encode() + b"\x00" + banner.encode() + b"\x00"
    )
    dram = descriptor + _code(rng, 0x600)
    image = ESP8266ROMFirmwareImage()
    image.entrypoint = ENTRY
    image.flash_mode = 3  # DOUT, what an ESP-01S wants; esptool may rewrite it
    image.flash_size_freq = 0x20  # 1 MB, 40 MHz
    image.segments = [
        ImageSegment(IRAM, _code(rng, 0x6000)),
        ImageSegment(DRAM, dram + b"\x00" * (-len(dram) % 4)),
    ]
    _, boot = image.save(None)
    irom = _code(rng, size - IROM_OFFSET)
    return boot + b"\xff" * (IROM_OFFSET - len(boot)) + irom
