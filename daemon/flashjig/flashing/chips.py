"""The chips by the names the config uses (esptool's ``--chip`` names) and esptool's target
class for each: bootloader offset, image class, flash size codes and ROM features come from
there, never from a table of ours."""

from esptool.loader import ESPLoader
from esptool.targets import CHIP_DEFS

from flashjig.config import Chip


def target(chip: str) -> type[ESPLoader]:
    """esptool's ROM class for a chip name such as ``esp32c3``."""
    cls: type[ESPLoader] = CHIP_DEFS[chip]
    return cls


def chip_of(esp: ESPLoader) -> str:
    """The chip name of a loader esptool detected (its stub class included)."""
    return next(name for name, cls in CHIP_DEFS.items() if cls.CHIP_NAME == esp.CHIP_NAME)


def revision(esp: ESPLoader) -> str | None:
    """``v<major>.<minor>`` of an ESP32-family chip (read from eFuse), None for an ESP8266,
    whose ROM keeps no revision."""
    if chip_of(esp) == Chip.ESP8266:
        return None
    return f"v{esp.get_major_chip_version()}.{esp.get_minor_chip_version()}"


def chip_named_by_image_id(chip_id: int) -> str | None:
    """The chip (by its ``--chip`` name) an ESP32-family image's header names by its chip
    id (esptool's ``IMAGE_CHIP_ID``, None for the ESP8266, whose images name no chip); None
    for an id esptool does not know."""
    for name, cls in CHIP_DEFS.items():
        if chip_id == cls.IMAGE_CHIP_ID:
            return str(name)
    return None
