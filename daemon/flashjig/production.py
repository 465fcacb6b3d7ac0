"""Production steps around the write, each over esptool's API on a connected stub:
the real-capacity check, the read-back backup, and the per-unit images.

Real capacity: a counterfeit chip answers to a larger JEDEC size than it holds and wraps
addresses, so offset ``s`` reads back what is at 0. For each smaller size ``s`` the
station compares the module's MD5 of the first sector with that of the sector at ``s``;
different contents prove the chip holds more than ``s``. Equal contents (a blank chip,
say) are settled by writing a marker at ``s`` and looking at 0's MD5; what both sectors
held (read first, unless their MD5 says blank) is put back afterwards, so no data the
profile keeps is lost.
"""

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

from esptool.cmds import write_flash
from esptool.loader import ESPLoader

from flashjig import backups, identity
from flashjig.config import Profile
from flashjig.images import Image
from flashjig.sdklayout import SECTOR, system_area

SIZES = (512 * 1024, 1 << 20, 2 << 20, 4 << 20)
BLANK_SECTOR = b"\xff" * SECTOR
_BLANK_MD5 = hashlib.md5(BLANK_SECTOR).hexdigest()


def _write_sector(esp: ESPLoader, offset: int, data: bytes) -> None:
    write_flash(esp, [(offset, data)], no_progress=True)


def real_capacity(
    esp: ESPLoader, claimed: int, md5: Callable[[int, int], str] | None = None
) -> int:
    """The flash the chip really holds (``claimed`` unless addresses wrap earlier).

    ``md5(offset, length)`` is the module's digest of a region; the pipeline passes one that
    remembers its answers, so the sector at 0 is hashed once here and again nowhere."""
    md5 = md5 or esp.flash_md5sum
    for size in SIZES:
        if size >= claimed:
            break
        if md5(0, SECTOR) != md5(size, SECTOR):
            continue  # different data at 0 and at ``size``: no wrap there
        if _wraps_at(esp, size, blank=md5(0, SECTOR) == _BLANK_MD5):
            return size
    return claimed


def _wraps_at(esp: ESPLoader, size: int, *, blank: bool) -> bool:
    """Does a marker written at ``size`` show at 0? The sectors at 0 and ``size`` hold
    the same bytes (their MD5s are equal), ``blank`` or read here."""
    held = BLANK_SECTOR if blank else esp.read_flash(0, SECTOR)
    marker = os.urandom(16) * (SECTOR // 16)
    _write_sector(esp, size, marker)
    wrapped = esp.flash_md5sum(0, SECTOR) == hashlib.md5(marker).hexdigest()
    # Put back what was there: one physical sector if it wraps, both if it does not.
    _write_sector(esp, 0 if wrapped else size, held)
    return wrapped


def size_name(size: int) -> str:
    for name, capacity in (
        ("512KB", 512 * 1024),
        ("1MB", 1 << 20),
        ("2MB", 2 << 20),
        ("4MB", 4 << 20),
    ):
        if capacity == size:
            return name
    return f"{size} bytes"


def backup(
    esp: ESPLoader,
    *,
    size: int,
    state_dir: Path,
    mac: str,
    socket: str,
    station: str,
    progress=None,
) -> Path:
    """Read the whole flash (esptool checks the stub's digest of the stream), check it
    against the module's own MD5, and keep it; before anything is erased."""
    backups.check_room(state_dir, size)
    data = esp.read_flash(0, size, progress_fn=progress)
    module_md5 = esp.flash_md5sum(0, size)
    return backups.save(
        state_dir, mac=mac, data=data, module_md5=module_md5, socket=socket, station=station
    )


def rf_init_images(size: int) -> tuple[Image, ...]:
    """The SDK's RF init data and blank system parameters for this flash size."""
    return tuple(
        Image(offset, Path(name), data, hashlib.sha256(data).hexdigest())
        for (offset, data), name in zip(
            system_area(size), ("esp_init_data_default.bin", "blank.bin"), strict=True
        )
    )


def unit_images(
    images: tuple[Image, ...], profile: Profile, unit: identity.Unit, *, station: str
) -> tuple[Image, ...]:
    """The profile's images made this unit's own."""
    ident = profile.identity
    if ident.mode == "record":
        record = identity.unit_record(unit, profile=profile.name, station=station)
        extra = Image(ident.offset, Path("unit-record"), record, hashlib.sha256(record).hexdigest())
        return (*images, extra)
    first, rest = images[0], images[1:]
    if ident.mode == "placeholder":
        data = identity.patch_placeholder(first.data, ident.placeholder, unit.client_id)
        path = first.path
    else:  # folder
        path = unit.image
        data = path.read_bytes()
    # A fresh Image: the unit's bytes must not join the shared compression cache.
    patched = Image(first.offset, path, data, hashlib.sha256(data).hexdigest())
    return (patched, *rest)
