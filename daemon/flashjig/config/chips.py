"""What differs between the chips the station flashes, in one table (esptool's targets
say the rest): the config checks profiles and sockets against it, so no code compares
chip names."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from flashjig.config.model import Chip


class UnitData(StrEnum):
    """Where a unit's identity goes: a JSON record in a sector of its own (the ESP8266), or
    an NVS partition the firmware reads with the IDF's nvs API (the ESP32 family)."""

    RECORD = "record"
    NVS = "nvs"


@dataclass(frozen=True)
class ChipTraits:
    chip: Chip
    unit_data: UnitData
    rf_init: bool = False  # the NONOS SDK's RF init data and system sectors apply
    flash_maps: bool = False  # the NONOS SDK's "c1" OTA flash maps (sizes.ESP8266_MAPS)
    native_usb: bool = False  # a USB-Serial-JTAG port a socket can reach it by
    boot_pin: str = "GPIO0"  # the strap sampled as EN rises: low = download mode
    external_boot_pull_up: bool = False  # the module pulls its boot pin up, not the chip
    # The ROM takes CHANGE_BAUDRATE (esptool: stub_and_esp32_function_only); the ESP8266's
    # does not, and only auto-bauds to the rate it is synced at.
    rom_changes_rate: bool = True


TRAITS: dict[Chip, ChipTraits] = {
    traits.chip: traits
    for traits in (
        ChipTraits(
            Chip.ESP8266,
            UnitData.RECORD,
            rf_init=True,
            flash_maps=True,
            external_boot_pull_up=True,
            rom_changes_rate=False,
        ),
        ChipTraits(Chip.ESP32, UnitData.NVS),
        ChipTraits(Chip.ESP32C3, UnitData.NVS, native_usb=True, boot_pin="GPIO9"),
        ChipTraits(Chip.ESP32S3, UnitData.NVS, native_usb=True),
    )
}

# The chips a socket may reach by their own USB port.
NATIVE_USB = tuple(chip for chip, traits in TRAITS.items() if traits.native_usb)
