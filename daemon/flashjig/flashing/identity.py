"""Per-unit identity: every module of a batch comes out different, and never two alike.

Serials are allocated in the journal (``Journal.allocate_unit``) before anything is
written; this module turns a unit into the bytes that carry its identity:

- ``record``: on an ESP8266, a unit record at a configured offset. Layout
  (little-endian): magic ``b"FJU1"``, u16 length N, N bytes of UTF-8 JSON (serial,
  client_id, mac, time, profile, station), u32 CRC-32 of the JSON, then 0xFF to the end of
  the 4 KiB sector. Firmware reads it with one flash read and a CRC check. On an
  ESP32-family chip the same fields (serial as u32, the rest strings) and the profile's
  extra ones, in an NVS partition (``flashing.nvs``) at the offset the build's partition
  table gives NVS: firmware reads them with ``nvs_get_u32`` / ``nvs_get_str``.
- ``placeholder``: a marker string in an image is replaced by the client id (NUL-padded
  to the marker's length; refused if it does not fit). When the marker lies in a segment
  the ROM checksums, the checksum byte is recomputed with esptool's image code.
- ``folder``: per-unit image files taken in name order, each used once.
"""

import hashlib
import io
import json
import struct
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from esptool.bin_image import LoadFirmwareImage

from flashjig.config import Chip, Identity, IdentityMode, Profile
from flashjig.config.chips import TRAITS, UnitData
from flashjig.errors import IdentityError
from flashjig.flashing import nvs
from flashjig.flashing.images import Image
from flashjig.flashing.sdklayout import SECTOR

RECORD_MAGIC = b"FJU1"


@dataclass(frozen=True)
class Unit:
    serial: int
    client_id: str
    mac: str
    image: Path | None = None  # folder mode: this unit's own image


def client_id(identity: Identity, serial: int, mac: str) -> str:
    return identity.template.format(serial=serial, mac=mac.replace(":", ""))


def unit_fields(unit: Unit, *, profile: str, station: str) -> dict[str, Any]:
    """What a unit record says, on every chip."""
    return {
        "serial": unit.serial,
        "client_id": unit.client_id,
        "mac": unit.mac,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "profile": profile,
        "station": station,
    }


def unit_record(unit: Unit, *, profile: str, station: str) -> bytes:
    """One flash sector holding the unit record (see the module docstring for layout)."""
    fields = unit_fields(unit, profile=profile, station=station)
    body = json.dumps(fields, separators=(",", ":")).encode()
    record = (
        RECORD_MAGIC + struct.pack("<H", len(body)) + body + struct.pack("<I", zlib.crc32(body))
    )
    if len(record) > SECTOR:
        raise IdentityError(f"unit record of {len(record)} bytes does not fit a sector")
    return record + b"\xff" * (SECTOR - len(record))


def read_unit_record(data: bytes) -> dict[str, Any]:
    """Parse a unit record as firmware would; ValueError if it is not one."""
    if data[:4] != RECORD_MAGIC:
        raise ValueError("no unit record here")
    (length,) = struct.unpack_from("<H", data, 4)
    body = data[6 : 6 + length]
    (crc,) = struct.unpack_from("<I", data, 6 + length)
    if zlib.crc32(body) != crc:
        raise ValueError("unit record CRC mismatch")
    return json.loads(body)


def patch_placeholder(image: bytes, placeholder: str, value: str) -> bytes:
    """Replace ``placeholder`` (every occurrence) with ``value`` and make the ESP8266
    image checksum valid again."""
    marker = placeholder.encode()
    replacement = value.encode()
    if len(replacement) > len(marker):
        raise IdentityError(
            f"value {value!r} ({len(replacement)} bytes) does not fit placeholder "
            f"{placeholder!r} ({len(marker)} bytes)"
        )
    if marker not in image:
        raise IdentityError(f"placeholder {placeholder!r} is not in the image")
    patched = image.replace(marker, replacement.ljust(len(marker), b"\x00"))
    if patched[0] != 0xE9:
        return patched
    # The ROM checksums the segments it loads; esptool's image code recomputes it.
    firmware = LoadFirmwareImage(Chip.ESP8266, patched)
    end = _checksum_position(patched, len(firmware.segments))
    return patched[:end] + bytes([firmware.calculate_checksum()]) + patched[end + 1 :]


def unit_nvs(
    images: tuple[Image, ...], ident: Identity, unit: Unit, *, profile: str, station: str
) -> Image:
    """The unit's NVS partition, as an image at the NVS offset of the build's table."""
    # load_images has made sure the chip's images hold a table with an NVS partition.
    table = next(image.partition_table for image in images if image.partition_table)
    where = nvs.nvs_partition(table)
    assert where is not None
    offset, size = where
    fields = unit_fields(unit, profile=profile, station=station)
    entries = [("serial", "u32", str(unit.serial))] + [
        (key, "string", str(value)) for key, value in fields.items() if key != "serial"
    ]
    mac = unit.mac.replace(":", "")
    entries += [
        (key, encoding, value.format(serial=unit.serial, client_id=unit.client_id, mac=mac))
        for key, encoding, value in ident.nvs_entries
    ]
    blob = nvs.nvs_blob(ident.namespace, entries, size)
    return Image(offset, Path("unit-nvs"), blob, hashlib.sha256(blob).hexdigest(), images[0].chip)


def _with_image(images: tuple[Image, ...], extra: Image) -> tuple[Image, ...]:
    """``images`` and ``extra``; written into the one that spans it (a merged image holding
    the NVS partition's place), as a fresh Image: the unit's bytes must not join the shared
    compression cache."""
    for i, image in enumerate(images):
        if image.offset <= extra.offset and extra.end <= image.end:
            at = extra.offset - image.offset
            data = image.data[:at] + extra.data + image.data[at + len(extra.data) :]
            digest = hashlib.sha256(data).hexdigest()
            own = Image(image.offset, image.path, data, digest, image.chip, image.parts)
            return (*images[:i], own, *images[i + 1 :])
    return (*images, extra)


def _checksum_position(image: bytes, segments: int) -> int:
    """Where the ROM reads the checksum: the last byte of the 16-byte-aligned block after
    the segments (esptool's read_checksum/align_file_position)."""
    f = io.BytesIO(image)
    f.seek(8)
    for _ in range(segments):
        _addr, size = struct.unpack("<II", f.read(8))
        f.seek(size, 1)
    position = f.tell()
    return position + 15 - position % 16


def unit_image_files(folder: Path) -> list[str]:
    """Per-unit image files in the order they are handed out."""
    return sorted(p.name for p in folder.iterdir() if p.is_file() and p.suffix == ".bin")


def images_for_unit(
    images: tuple[Image, ...], profile: Profile, unit: Unit, *, station: str
) -> tuple[Image, ...]:
    """The profile's images made this unit's own."""
    ident = profile.identity
    if ident is None:
        raise IdentityError(f"profile {profile.name!r} gives its units no identity")
    if ident.mode == IdentityMode.RECORD and TRAITS[images[0].chip].unit_data == UnitData.NVS:
        blob = unit_nvs(images, ident, unit, profile=profile.name, station=station)
        return _with_image(images, blob)
    if ident.mode == IdentityMode.RECORD:
        if ident.offset is None:
            raise IdentityError("identity mode 'record' needs an offset")
        record = unit_record(unit, profile=profile.name, station=station)
        digest = hashlib.sha256(record).hexdigest()
        extra = Image(ident.offset, Path("unit-record"), record, digest, images[0].chip)
        return (*images, extra)
    first, rest = images[0], images[1:]
    if ident.mode == IdentityMode.PLACEHOLDER:
        if ident.placeholder is None:
            raise IdentityError("identity mode 'placeholder' needs a placeholder")
        data = patch_placeholder(first.data, ident.placeholder, unit.client_id)
        path = first.path
    else:  # folder
        if unit.image is None:
            raise IdentityError(f"unit {unit.serial} has no image of its own (folder mode)")
        path = unit.image
        data = path.read_bytes()
    # A fresh Image: the unit's bytes must not join the shared compression cache.
    patched = Image(first.offset, path, data, hashlib.sha256(data).hexdigest(), first.chip)
    return (patched, *rest)
