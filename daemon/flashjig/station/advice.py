"""What to try when a module failed, in the words of the person at the jig.

The reason says what went wrong; this says where to look first, from what causes it on a
real bench: esptool's troubleshooting guide (no sync: the boot strap and seating; a timeout
mid-write: power, the ESP8266 drawing up to 170 mA in bursts, datasheet 5.3), and what the
station itself checked (the flash's real size, the firmware's boot). Shown on the status
page's tiles and in ``status --json`` as a socket's ``advice``.
"""

from flashjig.flashing.result import Reason

WHAT_TO_TRY = {
    Reason.NO_SYNC: "is the module seated? the boot line (GPIO0) low at reset? TX and RX crossed?",
    Reason.WRONG_CHIP: "another chip than the profile's: use the right module or profile",
    Reason.FLASH_TOO_SMALL: "its flash is smaller than the images need: use a larger module",
    Reason.VERIFY_FAILED: "flash it once more; failing again, set the module aside",
    Reason.SERIAL_ERROR: "is the USB adapter plugged in, the module seated?",
    Reason.TIMEOUT: "it stopped answering: check its 3.3 V supply and seating, then flash again",
    Reason.CANCELLED: "press the button to flash it again",
    Reason.NO_IDENTITY: "no identity to hand out: is the serial range used up? see the log",
    Reason.IMAGE_LAYOUT: "the images do not fit this module's flash: check the profile",
    Reason.BACKUP_FAILED: "its flash could not be kept: is the station's disk full?",
    Reason.DID_NOT_BOOT: "the firmware did not start: 'flashjig history' has its boot log",
    Reason.BURN_IN_FAILED: "it failed burn-in: set the module aside",
    Reason.REMOVED: "taken out mid-flash: seat it again and flash",
    Reason.INTERRUPTED: "the station stopped mid-flash: flash it again",
    Reason.INTERNAL_ERROR: "a fault of the station's: the log says more; flash it again",
}


def what_to_try(reason: Reason | None, flash_size: str | None, claimed: str | None) -> str:
    """A counterfeit flash first (whatever the outcome: the unit may be fine today and
    lose data at the size it claims tomorrow), then the reason's advice; "" for none or a
    reason another version wrote."""
    if claimed is not None:
        return f"counterfeit: holds {_spaced(flash_size)}, claims {_spaced(claimed)}"
    return WHAT_TO_TRY.get(reason, "") if reason is not None else ""


def _spaced(size: str | None) -> str:
    """esptool's "4MB" as a person writes it: "4 MB"."""
    if size is None:
        return "less"
    return size[:-2] + " " + size[-2:] if size.endswith(("MB", "KB")) else size
