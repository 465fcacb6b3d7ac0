"""The flash sizes modules come with: the one table the whole station uses.

The bytes are esptool's (``flash_size_bytes``), the names the ones esptool's targets know
that the station supports: ESP-01 and ESP-01S modules carry 512 KB to 4 MB, ESP32, C3 and
S3 modules 4 MB to 16 MB (ESP32-WROOM-32E, ESP32-S3-WROOM-1: 4, 8 or 16 MB).
"""

from esptool.util import flash_size_bytes

SECTOR_SIZE = 0x1000  # the flash's erase sector: images must start on one
NAMES = ("512KB", "1MB", "2MB", "4MB", "8MB", "16MB")


def _bytes(name: str) -> int:
    size = flash_size_bytes(name)
    if size is None:  # esptool would have to drop a size it has always known
        raise ValueError(f"esptool does not know the flash size {name}")
    return size


BYTES: dict[str, int] = {name: _bytes(name) for name in NAMES}


# The ESP8266 header's sizes for the NONOS SDK's "c1" flash maps (esptool's names, its
# ESP8266ROM.FLASH_SIZES): the same 2 or 4 MB of flash, with the SDK's 1024 KB + 1024 KB
# OTA layout, which the AT firmware's boot_v1.x reads from the header to find user1 and
# user2 (ESP8266 NONOS SDK: "ESP8266 Download Tool" flash size options, esptool docs).
ESP8266_MAPS: dict[str, int] = {"2MB-c1": BYTES["2MB"], "4MB-c1": BYTES["4MB"]}


def header_bytes(name: str) -> int | None:
    """The flash a header size names (``4MB``, ``4MB-c1``), None for ``keep``, ``detect``
    or a name the station does not know."""
    return BYTES.get(name, ESP8266_MAPS.get(name))


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
