"""ESP-IDF's ``flasher_args.json``: a build's own list of what to flash where, so a profile
can name a build folder's file instead of copying its offsets by hand.

``idf.py build`` writes it into the build folder and ``idf.py flash`` reads it (ESP-IDF's
tools/idf_py_actions and components/esptool_py/project_include.cmake):
``flash_files`` maps an offset ("0x1000") to a path relative to the file's folder;
``extra_esptool_args.chip`` is the target; ``flash_settings`` holds the flash mode, size
and frequency the build's bootloader header already carries; one entry per role
(``bootloader``, ``app``, ``partition-table``, ``otadata``) repeats an offset and a file
with ``encrypted`` ("true"/"false"). Encrypted writes (esptool's ``--encrypt-files``) are
not something the station does: a build asking for one is refused, not written in the clear.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class FlasherArgs:
    chip: str
    files: tuple[tuple[int, Path], ...]  # (offset, path), in the file's order


class FlasherArgsError(ValueError):
    """What is wrong with the file, in words naming it and the key."""


def read_flasher_args(path: Path) -> FlasherArgs:
    try:
        data: Any = json.loads(path.read_text())
    except OSError as e:
        raise FlasherArgsError(f"cannot read {path}: {e.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise FlasherArgsError(f"{path} is not JSON: {e}") from None
    if not isinstance(data, dict):
        raise FlasherArgsError(f"{path}: expected a JSON object, as idf.py writes")
    extra = data.get("extra_esptool_args")
    chip = extra.get("chip") if isinstance(extra, dict) else None
    if not isinstance(chip, str):
        raise FlasherArgsError(f"{path}: extra_esptool_args.chip is missing: which chip is it for?")
    files = data.get("flash_files")
    if not isinstance(files, dict) or not files:
        raise FlasherArgsError(f"{path}: flash_files is missing or empty")
    out = []
    for key, name in files.items():
        try:
            offset = int(key, 0)
        except ValueError:
            raise FlasherArgsError(f"{path}: flash_files: {key!r} is not an offset") from None
        if not isinstance(name, str) or not name:
            raise FlasherArgsError(f"{path}: flash_files.{key}: expected a file name")
        out.append((offset, (path.parent / name)))
    for role, entry in data.items():
        if isinstance(entry, dict) and str(entry.get("encrypted", "false")).lower() == "true":
            raise FlasherArgsError(
                f"{path}: {role} is to be written encrypted (flash encryption), which the "
                "station does not do"
            )
    return FlasherArgs(chip=chip.lower(), files=tuple(out))
