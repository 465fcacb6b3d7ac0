"""The real-capacity check, over esptool's API on a connected stub.

A counterfeit chip answers to a larger JEDEC size than it holds and wraps addresses: the
sector at each multiple of its real size reads back sector 0. So for each smaller size
``s`` the check compares the module's MD5 of the sector at 0 with that of the sector at
``s``, and what it must write to settle a question is as little as the flash allows:

- Sector 0 holds data (other firmware, or this image): different MD5s prove the chip holds
  more than ``s``. That is the genuine module's case: MD5s alone, nothing written. Equal
  ones are compared again over 64 KiB: the same 64 KiB of firmware at 0 and at ``s`` is a
  mirror (MD5s alone again). Only where that 64 KiB is one sector of data and then blank
  (too little to tell a mirror from the same sector written twice) does a marker written at
  ``s`` and looked for at 0 decide, and both sectors are put back.
- Sector 0 is blank (a new module): every blank sector at ``s`` is a question, and one
  marker page written at 0 answers them all (it shows at the smallest ``s`` the chip wraps
  at). When the image is about to be written over sector 0 anyway, the marker is left for
  it (one sector programmed on a genuine module); otherwise sector 0 is erased again.

Whatever it found, a module the check refuses keeps every byte it had.
"""

import hashlib
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from esptool.loader import ESPLoader

from flashjig.config.sizes import BYTES
from flashjig.flashing.sdklayout import SECTOR

SIZES = tuple(BYTES.values())
BLANK_SECTOR = b"\xff" * SECTOR
_BLANK_MD5 = hashlib.md5(BLANK_SECTOR).hexdigest()
PAGE = 256  # a marker page: one page program, the rest of the sector stays blank
REGION = 0x10000  # equal sectors are compared again over this much
_BLANK_REST = hashlib.md5(b"\xff" * (REGION - SECTOR)).hexdigest()


@dataclass(frozen=True)
class Capacity:
    """What the check found: the real size, and whether it left its marker in sector 0
    (for the image write to replace; the module's MD5s of sector 0 are then stale)."""

    size: int
    marked: bool = False


def _write(esp: ESPLoader, offset: int, data: bytes) -> None:
    """Erase the sectors ``data`` covers and program it: the stub's own compressed write,
    one block, without esptool write_flash's extra reads (its security info, its MD5
    check: the check reads back what it needs)."""
    packed = zlib.compress(data, 9)
    esp.flash_defl_begin(len(data), len(packed), offset)
    esp.flash_defl_block(packed, 0)
    esp.flash_defl_finish(reboot=False)


def real_capacity(
    esp: ESPLoader,
    claimed: int,
    md5: Callable[[int, int], str] | None = None,
    *,
    rewritten: bool = False,
) -> Capacity:
    """The flash the chip really holds (``claimed`` unless addresses wrap earlier).

    ``md5(offset, length)`` is the module's digest of a region; the pipeline passes one that
    remembers its answers, so each is asked once. ``rewritten``: sector 0 is written next
    (the image starts there), so a marker may be left in it."""
    md5 = md5 or esp.flash_md5sum
    smaller = [size for size in SIZES if size < claimed]
    first = md5(0, SECTOR)
    if first == _BLANK_MD5:
        return _blank_check(
            esp, claimed, [s for s in smaller if md5(s, SECTOR) == first], rewritten
        )
    for size in smaller:
        if md5(size, SECTOR) != first or md5(0, REGION) != md5(size, REGION):
            continue  # different data at 0 and at ``size``: no wrap there
        if md5(SECTOR, REGION - SECTOR) != _BLANK_REST or _wraps_at(esp, size):
            return Capacity(size)  # the same 64 KiB of data: a mirror, or the marker says so
    return Capacity(claimed)


def _blank_check(esp: ESPLoader, claimed: int, questions: list[int], rewritten: bool) -> Capacity:
    """Sector 0 is blank, and so is the sector at each of ``questions``: one marker page at
    0 shows at the smallest size the chip wraps at, if any."""
    if not questions:
        return Capacity(claimed)  # a wrap would mirror the blank sector 0: none here
    marker = os.urandom(16) * (PAGE // 16)
    _write(esp, 0, marker)
    shown = hashlib.md5(marker).hexdigest()
    real = next((s for s in questions if esp.flash_md5sum(s, PAGE) == shown), claimed)
    if real == claimed and rewritten:
        return Capacity(claimed, marked=True)
    unmark(esp)  # erased again: the module as it came
    return Capacity(real)


def unmark(esp: ESPLoader) -> None:
    """Take back the marker the check left in sector 0 (the attempt was refused after it)."""
    _write(esp, 0, BLANK_SECTOR)


def _wraps_at(esp: ESPLoader, size: int) -> bool:
    """Does a marker written at ``size`` show at 0? The sectors at 0 and ``size`` hold
    the same data; both are put back as they were."""
    held = esp.read_flash(0, SECTOR)
    marker = os.urandom(16) * (SECTOR // 16)
    _write(esp, size, marker)
    wrapped = esp.flash_md5sum(0, SECTOR) == hashlib.md5(marker).hexdigest()
    # Put back what was there: one physical sector if it wraps, both if it does not.
    _write(esp, 0 if wrapped else size, held)
    return wrapped
