"""A profile's images, read and checked once, before any module is touched.

Checks: every file is readable and matches its pinned sha256, and is not a gzip (OTA)
file; each part of it that the chip will load (``flashing.parts``: the bootloader at the
chip's bootloader offset, 0x0 or 0x1000 on an ESP32, whether the file is one or merely
covers it; the partition table and the apps it lists inside a merged image; an ESP32 app
or an ESP8266 "V2" app given on its own) is valid by esptool's own image classes (header,
segments, checksum; on the ESP32s the chip id in the extended header and the appended
SHA-256), and a table's MD5 row holds. A file that covers the bootloader's place with no
bootloader there is named for what it is: a factory image for another chip, or for
another offset. What can only be checked against a module (does it fit the detected
flash, does its revision take the image) is done by the pipeline, still before erasing.

A station compresses an image once, not once per module. The header esptool rewrites
(flash mode, size and frequency) depends on the profile and, with ``flash_size: detect``,
on the module, so the zlib stream is built from two deflate parts: the first sector, where
the header is, and the rest, which is the same for every header and is compressed once
(``prepare`` does it ahead, while the first module is still being connected). The stub
inflates the joined stream as it would esptool's; it is about 300 bytes (0.05 %) longer.
"""

import hashlib
import struct
import threading
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from esptool.bin_image import LoadFirmwareImage
from esptool.util import FatalError, pad_to

from flashjig.config import Chip, IdentityMode, ImageSpec, Profile
from flashjig.config.chips import TRAITS, UnitData
from flashjig.config.model import DEFAULT_CHIP
from flashjig.errors import ImageError
from flashjig.flashing import chips, nvs
from flashjig.flashing.chips import target
from flashjig.flashing.esptool_internals import image_with_flash_params
from flashjig.flashing.parts import (
    GZIP_MAGIC,
    TABLE_SIZE,
    Kind,
    Part,
    bootloader_in,
    parts,
    table_md5_problem,
)

LEVEL = 9  # as esptool compresses
ZLIB_HEADER = b"\x78\xda"  # deflate, 32 KiB window, level 9 (RFC 1950)
SPLIT = 0x1000  # the first sector, holding the image header, is compressed on its own


@dataclass
class Image:
    offset: int
    path: Path
    data: bytes
    sha256: str
    chip: Chip = DEFAULT_CHIP
    parts: tuple[Part, ...] = ()  # what in it is checked as an image or a table
    _compressed: dict[bytes, bytes] = field(default_factory=dict, repr=False)
    _bodies: dict[bytes, bytes] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def end(self) -> int:
        return self.offset + len(self.data)

    @property
    def partition_table(self) -> bytes | None:
        """The ESP32-family partition table this file holds (or is), if any."""
        for part in self.parts:
            if part.kind is Kind.PARTITION_TABLE:
                return self.data[part.start : part.start + TABLE_SIZE]
        return None

    def for_module(self, flash_mode: str, flash_freq: str, flash_size: str) -> bytes:
        """The bytes to write: padded to a word and, for a boot image, with the header's
        flash parameters set (esptool's own header code, given the chip class)."""
        data = pad_to(self.data, 4)
        rom = target(self.chip)
        return image_with_flash_params(rom, self.offset, flash_mode, flash_freq, flash_size, data)

    def prepare(self) -> None:
        """Compress what every header variant shares, unless that is done already."""
        if not self._bodies:
            self._body(pad_to(self.data, 4)[SPLIT:])

    def compressed(self, data: bytes) -> bytes:
        """A zlib stream of ``data`` (this image as written to a module), kept per header
        variant; the part after the first sector is compressed once for all of them."""
        key = hashlib.sha256(data).digest()
        with self._lock:
            cached = self._compressed.get(key)
        if cached is None:
            head = zlib.compressobj(LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
            # A sync flush ends the first part on a byte boundary, not as the last block:
            # the body's deflate blocks follow it as if one compressor had made both.
            first = head.compress(data[:SPLIT]) + head.flush(zlib.Z_SYNC_FLUSH)
            trailer = struct.pack(">I", zlib.adler32(data))
            stream = ZLIB_HEADER + first + self._body(data[SPLIT:]) + trailer
            with self._lock:
                cached = self._compressed.setdefault(key, stream)
        return cached

    def _body(self, body: bytes) -> bytes:
        """Raw deflate of everything after the first sector, computed once per content."""
        key = hashlib.sha256(body).digest()
        with self._lock:  # held while compressing: a second socket waits, never repeats it
            if key not in self._bodies:
                packer = zlib.compressobj(LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
                self._bodies[key] = packer.compress(body) + packer.flush()
            return self._bodies[key]


def _check_image(where: str, data: bytes, chip: str, what: str) -> None:
    """An image as the ROM (or the second-stage bootloader) will take it: esptool's parser
    (header, segments, the chip id on the ESP32s), the checksum the ROM verifies before it
    jumps in and the SHA-256 appended to ESP32-family images; a wrong one would be written,
    verified and then never boot. ``where`` names the file (and the part in it), ``what``
    the kind of image it should be."""
    rom = target(chip)
    try:
        image = LoadFirmwareImage(chip, data)
    except (FatalError, ValueError, struct.error, TypeError, IndexError) as e:
        # esptool's parser says "cut short" in several ways: TypeError from ord() of an
        # empty read after the last segment, struct.error from a short header.
        reason = str(e) or type(e).__name__
        if isinstance(e, TypeError | IndexError | struct.error):
            reason = f"the file ends early ({len(data)} bytes)"
        raise ImageError(f"{where}: not a valid {rom.CHIP_NAME} {what}: {reason}") from None
    chip_id = getattr(image, "chip_id", None)
    if chip_id is not None and chip_id != rom.IMAGE_CHIP_ID:
        named = chips.chip_named_by_image_id(chip_id)
        built_for = f"unknown chip {chip_id}" if named is None else target(named).CHIP_NAME
        raise ImageError(
            f"{where}: wrong chip: built for the {built_for} (chip id {chip_id}), not the "
            f"{rom.CHIP_NAME} (chip id {rom.IMAGE_CHIP_ID}): the ROM would refuse to boot it"
        )
    expected = image.calculate_checksum()
    if image.checksum != expected:
        raise ImageError(
            f"{where}: segment checksum is {image.checksum:#04x}, its segments give "
            f"{expected:#04x}: the ROM would refuse to boot it"
        )
    stored = getattr(image, "stored_digest", None)
    if stored is not None and stored != image.calc_digest:
        raise ImageError(
            f"{where}: the SHA-256 appended to the image does not match its contents: "
            "the bootloader would refuse to boot it"
        )


def _check_part(spec: ImageSpec, data: bytes, part: Part) -> None:
    """One part of a file, checked as if it had been given on its own."""
    where = str(spec.path) if part.offset == spec.offset else f"{spec.path} ({part.describe()})"
    if part.kind is Kind.PARTITION_TABLE:
        problem = table_md5_problem(data[part.start : part.start + TABLE_SIZE])
        if problem is not None:
            raise ImageError(f"{where}: {problem}: the bootloader would refuse the table")
        return
    rom = target(spec.chip)
    if part.kind is Kind.BOOTLOADER:
        if spec.chip == Chip.ESP8266 and bootloader_in(data) is not None:
            _no_bootloader(spec, data, part)  # an ESP32-family build in an ESP8266 list
        if data[part.start : part.start + 1] != bytes([rom.ESP_IMAGE_MAGIC]):
            _no_bootloader(spec, data, part)
    what = "boot image" if part.kind is Kind.BOOTLOADER else "app image"
    _check_image(where, data[part.start :], spec.chip, what)


def _no_bootloader(spec: ImageSpec, data: bytes, part: Part) -> None:
    """A file that covers the chip's bootloader offset with no bootloader there: say what
    it is for, when it is a factory image for another chip or for another offset."""
    rom = target(spec.chip)
    here = f"{spec.path} (written at {spec.offset:#x})"
    found = bootloader_in(data)
    if found is None:
        raise ImageError(
            f"{here}: not a valid {rom.CHIP_NAME} boot image: nothing with the image magic "
            f"at {part.offset:#x}, where the ROM looks for one: the module would not boot"
        )
    chip, at = found
    other = target(chip)
    if chip != spec.chip:
        raise ImageError(
            f"{here}: wrong chip: it holds a bootloader for the {other.CHIP_NAME} at file "
            f"offset {at:#x}, not one for the {rom.CHIP_NAME}"
        )
    raise ImageError(
        f"{here}: its {rom.CHIP_NAME} bootloader is at file offset {at:#x}, so the file "
        f"is for {part.offset - at:#x}, not {spec.offset:#x}"
    )


def _refuse_compressed(spec: ImageSpec, data: bytes) -> None:
    if data[:2] == GZIP_MAGIC:
        raise ImageError(
            f"{spec.path}: gzip-compressed (an OTA update file, such as Tasmota's .bin.gz): "
            "flash the uncompressed .bin over serial"
        )


def load_images(profile: Profile) -> tuple[Image, ...]:
    images = []
    for spec in profile.images:
        try:
            data = spec.path.read_bytes()
        except OSError as e:
            raise ImageError(f"{spec.path}: cannot read image: {e.strerror}") from None
        digest = hashlib.sha256(data).hexdigest()
        if spec.sha256 and digest != spec.sha256:
            raise ImageError(f"{spec.path}: sha256 is {digest}, the profile pins {spec.sha256}")
        _refuse_compressed(spec, data)
        found = parts(spec.chip, spec.offset, data)
        for part in found:
            _check_part(spec, data, part)
        images.append(Image(spec.offset, spec.path, data, digest, spec.chip, found))
    _check_unit_data(profile, images)
    return tuple(images)


def _check_unit_data(profile: Profile, images: list[Image]) -> None:
    """An ESP32-family unit's data goes in its NVS partition: the build's partition table
    must be among the chip's images, and have one."""
    if profile.identity is None or profile.identity.mode != IdentityMode.RECORD:
        return
    for chip in profile.chips:
        if TRAITS[chip].unit_data != UnitData.NVS:
            continue
        tables = [i for i in images if i.chip == chip and i.partition_table is not None]
        if not tables:
            raise ImageError(
                f"profile {profile.name!r} gives units an identity, which an {chip} keeps in "
                "NVS: its images need the build's partition table (partition-table.bin)"
            )
        table = tables[0].partition_table
        assert table is not None
        if nvs.nvs_partition(table) is None:
            raise ImageError(f"{tables[0].path}: the partition table has no NVS partition")
