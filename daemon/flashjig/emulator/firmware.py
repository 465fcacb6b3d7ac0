"""Firmware-like images for the demo, the tests and the benchmarks.

No firmware can be downloaded here, so we build it with esptool's own image classes. For an
ESP8266, a "version 1" image (header, IRAM and DRAM segments, checksum) as the NONOS SDK
lays it out: the ROM-loaded part at 0x0 and the flash-mapped irom0 text at 0x10000. For
the ESP32s, what an ESP-IDF build flashes: a second-stage bootloader at the chip's
bootloader offset, the partition table at 0x8000 (IDF's default single-app layout: nvs,
phy_init, factory) and the app at 0x10000, each image with its extended header (chip id,
revisions) and appended SHA-256. The contents are synthetic machine code drawn from a
small instruction vocabulary with skewed frequencies, so they compress about as well as
real code, plus an app descriptor telling the emulator what the firmware prints.
"""

import hashlib
import json
import random
import struct

from esptool.bin_image import (
    ELFSection,
    ESP8266ROMFirmwareImage,
    ESP8266V2FirmwareImage,
    ImageSegment,
)
from esptool.targets import CHIP_DEFS

from flashjig.emulator.bootrom import APP_MARKER, PARTITION_MAGIC, PARTITION_TABLE

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


DEMO_BANNER = "\r\nflashjig demo firmware 1.0\r\nready\r\n"


def _descriptor(banner: str, baud: int) -> bytes:
    return APP_MARKER + json.dumps({"baud": baud}).encode() + b"\x00" + banner.encode() + b"\x00"


def build_firmware(
    size: int = 0x100000,
    *,
    banner: str = DEMO_BANNER,
    baud: int = 115200,
    seed: int = 8266,
) -> bytes:
    """A single image file to write at 0x0: the boot image, padding, then irom0 text."""
    if size < IROM_OFFSET + 0x1000:
        raise ValueError(f"firmware size must be at least {IROM_OFFSET + 0x1000:#x} bytes")
    rng = random.Random(seed)
    dram = _descriptor(banner, baud) + _code(rng, 0x600)
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


# The ESP8266 AT / NONOS SDK download set for a 4 MB module in the 4MB-c1 map, by offset
# (the SDK's README and ESP8266_NONOS_SDK issue 179): the second-stage bootloader, user1,
# the RF init data and blank system parameters (the last 4 sectors), blank OTA settings.
AT_LAYOUT_4MB_C1 = {
    0x0: "boot_v1.7.bin",
    0x1000: "user1.2048.new.5.bin",
    0xFE000: "blank.bin",
    0x3FC000: "esp_init_data_default_v08.bin",
    0x3FE000: "blank.bin",
}
IROM_MAP_START = 0x40200000  # the ESP8266's flash-mapped code (esptool's ESP8266ROM)


def build_at_firmware(
    *, banner: str = "\r\nready\r\n", baud: int = 115200, seed: int = 1
) -> dict[str, bytes]:
    """The AT firmware's files by name, as the NONOS SDK ships them (but the RF init data,
    which ``flashing.sdklayout`` holds as the SDK has it). ``boot_v1.7.bin`` is a
    "V1" image the ROM loads (synthetic code standing in for Espressif's closed bootloader);
    ``user1.2048.new.5.bin`` a "V2" image made by esptool's ``ESP8266V2FirmwareImage``, the
    code ``elf2image --version 2`` runs: magic 0xEA, the irom0 text (mapped at user1's
    offset + 0x10), then a V1 header, the RAM segments, the checksum and the SDK's CRC32;
    blank.bin is plain data with no header."""
    rng = random.Random(seed)
    boot = ESP8266ROMFirmwareImage()
    boot.entrypoint = ENTRY
    boot.flash_mode = 0  # QIO, as Espressif's boot_v1.7.bin has it; esptool may rewrite it
    boot.flash_size_freq = 0x40  # 4 MB, 40 MHz
    boot.segments = [ImageSegment(IRAM, _code(rng, 0xC00))]
    _, boot_bin = boot.save(None)
    user1 = ESP8266V2FirmwareImage()
    user1.entrypoint = ENTRY
    user1.flash_mode = 0
    user1.flash_size_freq = 0x40
    dram = _descriptor(banner, baud) + _code(rng, 0x400)
    user1.segments = [
        ELFSection(b".irom0.text", IROM_MAP_START + 0x1000 + 0x10, _code(rng, 0x30000), 0),
        ELFSection(b".text", IRAM, _code(rng, 0x6000), 0),
        ELFSection(b".data", DRAM, dram + b"\x00" * (-len(dram) % 4), 0),
    ]
    user1_bin = user1.save(None)
    assert user1_bin is not None  # save(None) returns the bytes
    return {
        "boot_v1.7.bin": boot_bin,
        "user1.2048.new.5.bin": bytes(user1_bin),
        "blank.bin": b"\xff" * 0x1000,
    }


# Where each chip's RAM is (esptool's MEMORY_MAP): IRAM, DRAM.
_RAM = {
    "esp32": (0x40080400, 0x3FFB0000),
    "esp32c3": (0x40380400, 0x3FC88000),
    "esp32s3": (0x40380400, 0x3FC88000),
}
APP_OFFSET = 0x10000
NVS_OFFSET = 0x9000
NVS_SIZE = 0x6000
# IDF's default "single factory app" table: (label, type, subtype, offset, size).
PARTITIONS = (
    ("nvs", 1, 2, NVS_OFFSET, NVS_SIZE),
    ("phy_init", 1, 1, 0xF000, 0x1000),
    ("factory", 0, 0, APP_OFFSET, 0x100000),
)


def partition_table(partitions: tuple[tuple[str, int, int, int, int], ...] = PARTITIONS) -> bytes:
    """An IDF partition table: 32-byte rows, the MD5 row (0xEBEB) IDF checks, 0xFF after."""
    rows = b"".join(
        struct.pack("<HBBII16sI", PARTITION_MAGIC, kind, sub, offset, size, label.encode(), 0)
        for label, kind, sub, offset, size in partitions
    )
    rows += b"\xeb\xeb" + b"\xff" * 14 + hashlib.md5(rows).digest()
    return rows.ljust(0xC00, b"\xff")


# The chip revisions an image says it runs on, as ESP-IDF writes them: (min_rev,
# min_rev_full, max_rev_full). IDF 5.x's defaults: the ESP32 v0.0 to v3.99, the C3 v0.3 to
# v1.99 (its Kconfig ESP32C3_REV_MIN / ESP_REV_MAX_FULL); IDF 4.x wrote only the legacy
# min_rev byte and left both full fields 0 (esptool's bin_image: "max_rev_full 0: the
# fields are absent").
Revisions = tuple[int, int, int]
IDF5_REVISIONS: dict[str, Revisions] = {
    "esp32": (0, 0, 399),
    "esp32c3": (3, 3, 199),
    "esp32s3": (0, 0, 99),
}
IDF4_REVISIONS: Revisions = (0, 0, 0)


def _esp32_image(
    chip: str, rng: random.Random, iram: int, dram: bytes, revisions: Revisions | None = None
) -> bytes:
    rom = CHIP_DEFS[chip]
    image = rom.BOOTLOADER_IMAGE()
    iram_addr, dram_addr = _RAM[chip]
    image.entrypoint = iram_addr
    image.flash_mode = 2  # DIO, what IDF builds for modules
    image.flash_size_freq = rom.FLASH_SIZES["4MB"]
    image.min_rev, image.min_rev_full, image.max_rev_full = revisions or IDF5_REVISIONS[chip]
    image.segments = [
        ELFSection(b".iram0.text", iram_addr, _code(rng, iram), 0),
        ELFSection(b".dram0.data", dram_addr, dram + b"\x00" * (-len(dram) % 4), 0),
    ]
    data = image.save(None)
    assert data is not None  # save(None) returns the bytes
    return bytes(data)


def build_esp32_firmware(
    chip: str,
    app_size: int = 0x60000,
    *,
    banner: str = DEMO_BANNER,
    baud: int = 115200,
    seed: int = 32,
    revisions: Revisions | None = None,
) -> dict[int, bytes]:
    """What an IDF build flashes for ``chip`` (esp32, esp32c3), by offset: bootloader,
    partition table, app of about ``app_size`` bytes; both images say they run on
    ``revisions`` (IDF 5's defaults for the chip unless given)."""
    rng = random.Random(seed)
    bootloader = _esp32_image(chip, rng, 0x3000, _code(rng, 0x800), revisions)
    descriptor = _descriptor(banner, baud) + _code(rng, 0x800)
    app = _esp32_image(chip, rng, app_size - 0x1000, descriptor, revisions)
    return {
        CHIP_DEFS[chip].BOOTLOADER_FLASH_OFFSET: bootloader,
        PARTITION_TABLE: partition_table(),
        APP_OFFSET: app,
    }
