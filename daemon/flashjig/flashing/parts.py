"""What a firmware file holds, part by part, where the chip will find each on its flash.

People bring files made by other tools (firmware-notes.md in the team's notes):
- one image at the chip's bootloader offset (an ESP8266 image at 0x0; an ESP32-family
  bootloader at 0x1000 on the ESP32, 0x0 on the C3 and S3): the ROM loads it;
- an ESP8266 "V2" app (magic 0xEA, esptool's ``ESP8266V2FirmwareImage``: the AT / NONOS
  SDK's ``user1.bin`` at 0x1000), which the SDK's second-stage ``boot_v1.x`` loads;
- an ESP32-family app given on its own (magic 0xE9 anywhere else);
- a merged image (``esptool merge-bin``, ESPHome's ``factory.bin``, Arduino's merged
  export, MicroPython's ESP32 downloads for 0x1000): whatever lies at the chip's bootloader
  offset inside it is its bootloader, a partition table (magic AA 50) at 0x8000 says where
  the apps are;
- plain data with no header at all (``blank.bin``, ``esp_init_data_default.bin``, NVS,
  file systems).

Each part that is an image is checked as if it had been given on its own; a part is
located by its flash offset, whatever offset the file is written at. The partition table
layout is ESP-IDF's (components/partition_table/gen_esp32part.py): 32-byte rows
``<2sBBII16sI`` (magic, type, subtype, offset, size, label, flags) ended by a row
without the magic; an optional MD5 row (EB EB, 14 bytes of FF, the MD5 of the rows above
it) which the bootloader checks.
"""

import hashlib
import struct
from dataclasses import dataclass
from enum import Enum

from esptool.bin_image import ESP32FirmwareImage, ESP8266V2FirmwareImage
from esptool.loader import ESPLoader

from flashjig.config import Chip
from flashjig.flashing.chips import chip_named_by_image_id, target

TABLE_OFFSET = 0x8000  # ESP-IDF's CONFIG_PARTITION_TABLE_OFFSET, and every build seen
TABLE_SIZE = 0xC00  # the table's sector holds at most this (95 rows and the MD5 row)
TABLE_MAGIC = b"\xaa\x50"
TABLE_MD5_MAGIC = b"\xeb\xeb"
ROW = struct.Struct("<2sBBII16sI")
APP_TYPE = 0
GZIP_MAGIC = b"\x1f\x8b"
IMAGE_MAGIC = ESPLoader.ESP_IMAGE_MAGIC
WP_PIN_DISABLED = ESP32FirmwareImage.WP_PIN_DISABLED


class Kind(Enum):
    BOOTLOADER = "bootloader"  # what the ROM loads: at the chip's bootloader offset
    PARTITION_TABLE = "partition table"
    APP = "app"  # loaded by a second-stage bootloader


@dataclass(frozen=True)
class Part:
    kind: Kind
    offset: int  # on the flash
    start: int  # in the file

    def describe(self) -> str:
        """'the app at 0x10000, file offset 0xf000': where it is, for a message."""
        inside = f", file offset {self.start:#x}" if self.start else ""
        return f"the {self.kind.value} at {self.offset:#x}{inside}"


@dataclass(frozen=True)
class Partition:
    type: int
    subtype: int
    offset: int
    size: int
    label: str


def partitions(table: bytes) -> list[Partition]:
    """The rows of a partition table, up to the first that is not one."""
    rows = []
    for at in range(0, min(len(table), TABLE_SIZE) - ROW.size + 1, ROW.size):
        magic, kind, subtype, offset, size, label, _flags = ROW.unpack_from(table, at)
        if magic != TABLE_MAGIC:
            break
        rows.append(Partition(kind, subtype, offset, size, label.rstrip(b"\0").decode("latin-1")))
    return rows


def table_md5_problem(table: bytes) -> str | None:
    """Why the bootloader would refuse this table's MD5 row, None if it has none or it
    matches."""
    end = len(partitions(table)) * ROW.size
    row = table[end : end + ROW.size]
    if row[:2] != TABLE_MD5_MAGIC:
        return None
    if hashlib.md5(table[:end]).digest() != row[16:32]:
        return "its MD5 row does not match its rows"
    return None


def parts(chip: Chip, offset: int, data: bytes) -> tuple[Part, ...]:
    """The parts of a file written at ``offset`` for ``chip`` that are checked as images or
    tables (data parts are not listed)."""
    rom = target(chip)
    end = offset + len(data)

    def start(flash: int) -> int | None:
        return flash - offset if offset <= flash < end else None

    if chip == Chip.ESP8266:
        if offset == rom.BOOTLOADER_FLASH_OFFSET:
            return (Part(Kind.BOOTLOADER, offset, 0),)
        if data[:1] == bytes([ESP8266V2FirmwareImage.IMAGE_V2_MAGIC]):
            return (Part(Kind.APP, offset, 0),)
        return ()
    found = []
    boot = start(rom.BOOTLOADER_FLASH_OFFSET)
    if boot is not None:  # whatever a file puts there, the ROM will try to boot
        found.append(Part(Kind.BOOTLOADER, rom.BOOTLOADER_FLASH_OFFSET, boot))
    # A table is at 0x8000, or wherever a file that is one is written (a build with its
    # CONFIG_PARTITION_TABLE_OFFSET moved).
    table = 0 if data[:2] == TABLE_MAGIC else start(TABLE_OFFSET)
    if table is not None and data[table : table + 2] == TABLE_MAGIC:
        found.append(Part(Kind.PARTITION_TABLE, offset + table, table))
        for partition in partitions(data[table : table + TABLE_SIZE]):
            app = start(partition.offset)
            if partition.type == APP_TYPE and app is not None and data[app] == rom.ESP_IMAGE_MAGIC:
                found.append(Part(Kind.APP, partition.offset, app))
    elif boot is None and data[:1] == bytes([rom.ESP_IMAGE_MAGIC]):
        found.append(Part(Kind.APP, offset, 0))  # an app given on its own
    return tuple(found)


def bootloader_in(data: bytes) -> tuple[str, int] | None:
    """The chip an ESP32-family bootloader in ``data`` was built for (by the chip id in its
    extended header) and its file offset, looking where files put one: 0x0 (a bootloader,
    a C3/S3 factory image, a MicroPython ESP32 download for 0x1000) and 0x1000 (an ESP32
    factory image for 0x0); None if neither holds one."""
    for at in (0x0, 0x1000):
        header = data[at : at + 24]
        # Byte 8 of an ESP32-family header is the WP pin, 0xEE ("none") as esptool and
        # ESP-IDF write it; in an ESP8266 image it is the low byte of a load address.
        if len(header) < 24 or header[0] != IMAGE_MAGIC or header[8] != WP_PIN_DISABLED:
            continue
        (chip_id,) = struct.unpack_from("<H", header, 12)
        chip = chip_named_by_image_id(chip_id)
        if chip is not None:
            return chip, at
    return None
