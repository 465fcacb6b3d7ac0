"""The real-capacity check, over esptool's API on a connected stub.

A counterfeit chip answers to a larger JEDEC size than it holds and wraps
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

from esptool.cmds import write_flash
from esptool.loader import ESPLoader

from flashjig.config.sizes import BYTES
from flashjig.flashing.sdklayout import SECTOR

SIZES = tuple(BYTES.values())
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
