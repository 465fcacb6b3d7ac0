"""A profile's images, read and checked once, before any module is touched.

Checks: every file is readable and matches its pinned sha256; the image at 0x0 is a
valid ESP8266 image by esptool's own image code. What can only be checked against a
module (does it fit the detected flash) is done by the pipeline, still before erasing.
Compressed data is kept per header variant, so a station compresses an image once, not
once per module.
"""

import hashlib
import struct
import threading
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from esptool.bin_image import LoadFirmwareImage
from esptool.cmds import _update_image_flash_params
from esptool.targets.esp8266 import ESP8266ROM
from esptool.util import FatalError, pad_to

from flashjig.config import Profile


class ImageError(Exception):
    """An image that must not be written; the message names the file and the fault."""


@dataclass
class Image:
    offset: int
    path: Path
    data: bytes
    sha256: str
    _compressed: dict[bytes, bytes] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def end(self) -> int:
        return self.offset + len(self.data)

    def for_module(self, flash_mode: str, flash_freq: str, flash_size: str) -> bytes:
        """The bytes to write: padded to a word and, for a boot image, with the header's
        flash parameters set (esptool's own header code, given the chip class)."""
        data = pad_to(self.data, 4)
        return _update_image_flash_params(
            ESP8266ROM, self.offset, flash_freq, flash_mode, flash_size, data
        )

    def compressed(self, data: bytes) -> bytes:
        """zlib level 9, as esptool sends it; computed once per distinct header."""
        key = hashlib.sha256(data).digest()
        with self._lock:
            if key not in self._compressed:
                self._compressed[key] = zlib.compress(data, 9)
            return self._compressed[key]


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
        if spec.offset == 0:
            try:
                LoadFirmwareImage("esp8266", data)
            except (FatalError, ValueError, struct.error) as e:
                raise ImageError(f"{spec.path}: not a valid ESP8266 boot image: {e}") from None
        images.append(Image(spec.offset, spec.path, data, digest))
    return tuple(images)
