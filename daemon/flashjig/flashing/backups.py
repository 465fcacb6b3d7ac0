"""Read-back backups: what was on a module before the station overwrote it.

One file per MAC and time under ``<state dir>/backups/``, written atomically (temporary
file, fsync, rename) and only after its MD5 matched the module's own MD5 of the same
flash, with a JSON sidecar saying where it came from. A station refuses to start with
backups on when the disk has no room, and an attempt fails before erasing when a backup
cannot be kept.
"""

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from esptool.loader import ESPLoader

from flashjig.errors import BackupError

BACKUP_DIR = "backups"
START_ROOM = 64 << 20  # at start-up: room for 16 backups of a 4 MB module
MARGIN = 16 << 20  # never fill the disk to the last byte


def backup_dir(state_dir: Path) -> Path:
    return state_dir / BACKUP_DIR


def check_room(state_dir: Path, need: int) -> None:
    directory = backup_dir(state_dir)
    directory.mkdir(parents=True, exist_ok=True, mode=0o750)
    free = shutil.disk_usage(directory).free
    if free < need + MARGIN:
        raise BackupError(
            f"not enough room for backups in {directory}: {free >> 20} MiB free, "
            f"{(need + MARGIN) >> 20} MiB needed"
        )


def save(
    state_dir: Path,
    *,
    mac: str,
    data: bytes,
    module_md5: str,
    socket: str,
    station: str,
    offset: int = 0,
) -> Path:
    """Keep ``data`` if it is what the module holds (its MD5 agrees); the file's path."""
    digest = hashlib.md5(data).hexdigest()
    if digest != module_md5:
        raise BackupError(f"read-back MD5 {digest} differs from the module's {module_md5}")
    check_room(state_dir, len(data))
    when = datetime.now(UTC)
    name = f"{mac.replace(':', '')}-{when.strftime('%Y%m%dT%H%M%S%fZ')}.bin"
    path = backup_dir(state_dir) / name
    meta = {
        "file": name,
        "mac": mac,
        "offset": offset,
        "size": len(data),
        "md5": digest,
        "sha256": hashlib.sha256(data).hexdigest(),
        "socket": socket,
        "station": station,
        "time": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    _write_atomic(path, data)
    _write_atomic(path.with_suffix(".json"), json.dumps(meta, indent=2).encode())
    return path


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def list_backups(state_dir: Path) -> list[dict[str, Any]]:
    """Every kept backup, oldest first, from the sidecars; PermissionError where the
    state directory is not ours to read."""
    out: list[dict[str, Any]] = []
    directory = backup_dir(state_dir)
    # glob says nothing of a directory it may not read: it would look like no backups.
    if directory.exists() and not os.access(directory, os.R_OK | os.X_OK):
        raise PermissionError(f"{directory}: not readable")
    for sidecar in sorted(directory.glob("*.json")):
        try:
            meta = json.loads(sidecar.read_text())
        except (OSError, ValueError):
            continue
        meta["path"] = str(sidecar.with_suffix(".bin"))
        out.append(meta)
    return sorted(out, key=lambda m: m["time"])


def read_back(
    esp: ESPLoader,
    *,
    size: int,
    state_dir: Path,
    mac: str,
    socket: str,
    station: str,
    progress: Callable[[int, int, int], None] | None = None,
) -> Path:
    """Read the whole flash (esptool checks the stub's digest of the stream), check it
    against the module's own MD5, and keep it; before anything is erased."""
    check_room(state_dir, size)
    data = esp.read_flash(0, size, progress_fn=progress)
    module_md5 = esp.flash_md5sum(0, size)
    return save(
        state_dir, mac=mac, data=data, module_md5=module_md5, socket=socket, station=station
    )
