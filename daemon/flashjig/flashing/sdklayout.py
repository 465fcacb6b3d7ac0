"""Where the ESP8266 NONOS SDK keeps its system data, for ``rf_init: auto``.

The rule, for every flash size from 512 KB to 4 MB: the RF init data
(esp_init_data_default.bin) sits in the 4th sector from the end of the flash, and the
SDK's system parameters in the last 3 sectors, which a fresh flash must have blank
(0xFF: Espressif's blank.bin). So 0x7C000/0x7D000 on 512 KB, 0xFC000/0xFD000 on 1 MB,
0x1FC000/0x1FD000 on 2 MB, 0x3FC000/0x3FD000 on 4 MB. Sources: Espressif, "ESP8266 SDK
Getting Started Guide" (download addresses per flash size), and MicroPython's
ports/esp8266/esp_init_data.c, which reads the init data at chip_size - 4 * 0x1000.
Writing init data for the wrong size (a 4 MB layout on a 1 MB chip) leaves the SDK
without RF calibration: the module boots and never connects to Wi-Fi.
"""

import hashlib
from pathlib import Path

from esptool.loader import ESPLoader

from flashjig.flashing.images import Image

SECTOR = ESPLoader.FLASH_SECTOR_SIZE  # the flash's erase unit, 4 KiB

# esp_init_data_default.bin (v08) from the NONOS SDK: 128 bytes of RF parameters.
RF_INIT_DATA = bytes.fromhex(
    "05000402050505020500040505040505"
    "04fefdfff0f0f0e0e0e0e10afffff800"
    "f8f8524e4a4440380000010102030405"
    "01000000000002000000000000000000"
    "e10a0000000000000000019343000000"
    "00000000000000000000000000000000"
    "00000000000000000000000000000000"
    "00000100000000000000000000000000"
)


def init_data_offset(flash_size: int) -> int:
    return flash_size - 4 * SECTOR


def system_params_offset(flash_size: int) -> int:
    return flash_size - 3 * SECTOR


def system_area(flash_size: int) -> list[tuple[int, bytes]]:
    """(offset, data) to write for ``rf_init: auto`` on a module with this much flash."""
    init = RF_INIT_DATA + b"\xff" * (SECTOR - len(RF_INIT_DATA))
    return [
        (init_data_offset(flash_size), init),
        (system_params_offset(flash_size), b"\xff" * (3 * SECTOR)),
    ]


def rf_init_images(size: int) -> tuple[Image, ...]:
    """The SDK's RF init data and blank system parameters for this flash size."""
    return tuple(
        Image(offset, Path(name), data, hashlib.sha256(data).hexdigest())
        for (offset, data), name in zip(
            system_area(size), ("esp_init_data_default.bin", "blank.bin"), strict=True
        )
    )
