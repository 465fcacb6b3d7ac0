"""The flash sizes modules come with: the one table the whole station uses.

The bytes are esptool's (``flash_size_bytes``), the names the ones esptool's targets know
that the station supports: ESP-01 and ESP-01S modules carry 512 KB to 4 MB, ESP32, C3 and
S3 modules 4 MB to 16 MB (ESP32-WROOM-32E, ESP32-S3-WROOM-1: 4, 8 or 16 MB).
"""

from esptool.util import flash_size_bytes

NAMES = ("512KB", "1MB", "2MB", "4MB", "8MB", "16MB")


def _bytes(name: str) -> int:
    size = flash_size_bytes(name)
    if size is None:  # esptool would have to drop a size it has always known
        raise ValueError(f"esptool does not know the flash size {name}")
    return size


BYTES: dict[str, int] = {name: _bytes(name) for name in NAMES}


def size_name(size: int) -> str:
    """'1MB' for 1 MiB; sizes without a name as a byte count."""
    for name, capacity in BYTES.items():
        if capacity == size:
            return name
    return f"{size} bytes"


def smallest_holding(need: int) -> str:
    """The smallest flash size that holds ``need`` bytes (a byte count beyond 16 MB)."""
    for name, capacity in BYTES.items():
        if need <= capacity:
            return name
    return f"{need} bytes"
