"""Per-unit data for ESP32-family targets: an NVS partition holding the unit's identity,
written where the build's partition table puts its NVS partition.

ESP-IDF and Arduino firmware read per-unit settings with ``nvs_get_*`` (Arduino's
``Preferences``), so that is where a unit's serial and client id go: the blob is made by
Espressif's NVS partition generator (the ``esp-idf-nvs-partition-gen`` package, the same
code as ``python -m esp_idf_nvs_partition_gen generate``, run in memory) and fills the whole
partition, so writing it replaces whatever the partition held.

The partition table is the build's own (IDF puts it at 0x8000 and nowhere else by
default; Arduino's and IDF's default tables put NVS at 0x9000, 0x5000 or 0x6000 long):
its rows are read by ``flashing.parts``. NVS is type 1 (data), subtype 2.
"""

import io
import struct
from collections.abc import Iterable

from flashjig.errors import IdentityError
from flashjig.flashing.parts import partitions

NVS_TYPE, NVS_SUBTYPE = 1, 2
MAX_KEY = 15  # NVS keys and namespaces: 15 characters and a NUL
PAGE = 0x1000
MIN_SIZE = 3 * PAGE  # the generator's least read/write partition

# (key, encoding, value) as the NVS CSV format spells a data row.
Entry = tuple[str, str, str]


def nvs_partition(table: bytes) -> tuple[int, int] | None:
    """(offset, size) of the table's first NVS partition, None if it has none."""
    for partition in partitions(table):
        if (partition.type, partition.subtype) == (NVS_TYPE, NVS_SUBTYPE):
            return partition.offset, partition.size
    return None


def nvs_blob(namespace: str, entries: Iterable[Entry], size: int) -> bytes:
    """An NVS partition of ``size`` bytes holding ``entries`` in ``namespace``: the bytes
    ``esp_idf_nvs_partition_gen generate`` writes for the same CSV."""
    if size % PAGE or size < MIN_SIZE:
        raise IdentityError(
            f"an NVS partition of {size:#x} bytes cannot be generated "
            f"(a multiple of 4 KiB, at least {MIN_SIZE:#x})"
        )
    for name in (namespace, *(key for key, _, _ in entries)):
        if not 0 < len(name) <= MAX_KEY:
            raise IdentityError(f"NVS key {name!r} is longer than {MAX_KEY} characters")
    # Loaded when a unit needs it: the generator brings the cryptography package, which
    # the one-shot ``flashjig flash`` and every ESP8266-only station would pay for at start.
    from esp_idf_nvs_partition_gen.nvs_partition_gen import (
        InputError,
        InsufficientSizeError,
        Page,
        PageFullError,
        nvs_close,
        nvs_open,
        write_entry,
    )

    out = io.BytesIO()
    # The generator keeps the last page free for NVS's own page rotation, as its CLI does.
    nvs = nvs_open(out, size - PAGE, Page.VERSION2)
    try:
        write_entry(nvs, namespace, "namespace", "", "")
        for key, encoding, value in entries:
            write_entry(nvs, key, "data", encoding, value)
        nvs_close(nvs)
    except (InputError, PageFullError, InsufficientSizeError, ValueError, struct.error) as e:
        raise IdentityError(f"cannot make the unit's NVS partition: {e}".strip()) from None
    blob = out.getvalue()
    return blob + b"\xff" * (size - len(blob))
