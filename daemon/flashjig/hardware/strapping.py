"""Strapping sequences: how the station puts a module into its ROM bootloader or back
into its firmware. The boot line is the strap the chip samples as EN rises (GPIO0 on an
ESP8266, ESP32 or ESP32-S3, GPIO9 on an ESP32-C3). The timings are esptool's and
esp-serial-flasher's (EN low 100 ms, the boot line held past the rising edge, where the chip
samples it)."""

import time
from dataclasses import dataclass, field
from typing import Protocol

from esptool.reset import DEFAULT_RESET_DELAY
from esptool.targets import CHIP_DEFS

from flashjig.config.chips import TRAITS
from flashjig.config.model import AUTO, DEFAULT_CHIP, Chip, SocketChip
from flashjig.hardware.pins import StrapLine

RESET_HOLD_S = 0.1
# How long the boot line stays low after EN is let go, by connect attempt: esptool's own
# escalation. Its reset strategies on Linux (loader.py, _construct_reset_strategy_sequence)
# are UnixTightReset and ClassicReset with ``delay`` = DEFAULT_RESET_DELAY (0.05 s,
# esp_pylib/serial_reset.py) and then ``extra_delay`` = DEFAULT_RESET_DELAY + 0.5. The long
# one serves a board whose EN rises slowly through its RC: the chip samples its strap when EN
# crosses its threshold, there later than 50 ms after the release (issue 26). esptool cycles
# back to the short one; a socket's EN RC does not change between attempts, so later
# attempts keep the long one.
BOOT_HOLDS_S = (DEFAULT_RESET_DELAY, DEFAULT_RESET_DELAY + 0.5)


def boot_hold(attempt: int) -> float:
    """The boot line's hold past EN's rise on connect attempt ``attempt`` (1 the first)."""
    return BOOT_HOLDS_S[min(max(attempt, 1), len(BOOT_HOLDS_S)) - 1]


def _chips(chip: SocketChip) -> list[Chip]:
    """The chips a socket may hold: ``auto`` is any of them, by boot pin (a message names
    them in that order)."""
    if chip == AUTO:
        return sorted(TRAITS, key=lambda each: TRAITS[each].boot_pin)
    return [Chip(chip)]


class Straps(Protocol):
    """How a socket takes its module into the ROM loader and back: by its boot and EN lines
    (``ModuleLines``) or, on a native-USB socket, by resets over USB (``UsbStraps``)."""

    # Does a reset take the module's serial device away (native USB re-enumerating)?
    reenumerates: bool

    def enter_bootloader(self, attempt: int = 1) -> None:
        """Into the ROM loader; ``attempt`` counts the connect attempts (later ones strap
        for a slower module)."""
        ...

    def run_firmware(self) -> None: ...
    def hold_in_reset(self) -> None: ...
    def why_silent(self) -> str:
        """What the socket can tell of a module that did not answer its ROM loader."""
        ...

    def close(self) -> None: ...


@dataclass
class ModuleLines:
    """The two lines of one socket that decide how its module boots."""

    boot: StrapLine
    en: StrapLine
    chip: SocketChip = DEFAULT_CHIP  # what the socket holds (SocketConfig.chip), or auto
    reenumerates = False  # the USB adapter stays whatever the module does
    _reset_since: float | None = field(default=None, init=False)

    def enter_bootloader(self, attempt: int = 1) -> None:
        """The boot line low while EN rises: the ROM starts its UART download mode. EN goes
        low first, as in esptool's reset: a running module is stopped before its boot pin (an
        output in some firmware) is pulled. The boot line is held ``boot_hold(attempt)``
        past EN's release."""
        if self._reset_since is None:
            self.hold_in_reset()
        self.boot.assert_low()
        self._reset()
        self.en.release()
        time.sleep(boot_hold(attempt))
        self.boot.release()

    def run_firmware(self) -> None:
        """The boot line released while EN rises: the ROM boots the image in flash."""
        self.boot.release()
        self._reset()
        self.en.release()

    def hold_in_reset(self) -> None:
        """Keep a module just seated (and powered) in reset until it is flashed: it runs
        none of whatever firmware it came with meanwhile, and the reset a flash starts
        with is then already done (the button's press-to-done time is 100 ms shorter)."""
        self.en.assert_low()
        self._reset_since = time.monotonic()

    def _reset(self) -> None:
        """EN low for at least RESET_HOLD_S, counting a hold already under way."""
        if self._reset_since is None:
            self.hold_in_reset()
        since = self._reset_since
        assert since is not None  # hold_in_reset() has just set it
        held = time.monotonic() - since
        time.sleep(max(0.0, RESET_HOLD_S - held))
        self._reset_since = None

    def module_on_boot_line(self) -> bool:
        """Is a powered module's pull-up on the boot line (a presence and wiring check)? Read with
        EN held low, so the module, in reset, does nothing with the line meanwhile."""
        held = self._reset_since is not None
        if not held:
            self.en.assert_low()
        try:
            return self.boot.held_up_by_module()
        finally:
            if not held:
                self.en.release()

    def why_silent(self) -> str:
        """What the boot line's read-back (EN held low) can tell of a silent module, for the
        chip the socket holds. An ESP-01S (ESP8266) has its own 10 kOhm pull-up on GPIO0
        (shared/esp8266-notes.md, boot and strapping): read low, no powered module is on the
        line. The ESP32's and S3's GPIO0 and the C3's GPIO9 pull-ups are inside the chip
        (Espressif's datasheets, strapping pins) and off while EN holds it in reset
        (shared/platform-notes.md): low is what a seated, powered module reads too, so it
        shows nothing of the module. Only a board's pull-up reads high, and a C3 socket
        wired as hw/README.md says has its own on GPIO9, to the socket's switched 3.3 V:
        high there is a powered socket, seated or not; low, an unpowered one or an open
        boot wire."""
        held_up = self.module_on_boot_line()
        chips = _chips(self.chip)
        internal = [chip for chip in chips if not TRAITS[chip].external_boot_pull_up]
        if held_up:
            if not internal:  # every chip it may hold is on a module that pulls it up
                return "a module's pull-up is on the boot line: is its serial line, or EN, wired?"
            return (
                "a pull-up is on the boot line (a board's, the chip's own is off in reset: a "
                "C3 socket's own pull-up reads so with no module too): is a module seated, "
                "is its serial line, or EN, wired?"
            )
        if not internal:
            return (
                "no module's pull-up on the boot line: is a module seated and powered, "
                f"is its boot pin ({', '.join(TRAITS[chip].boot_pin for chip in chips)}) wired?"
            )
        pins = ", ".join(
            f"{TRAITS[chip].boot_pin} of an {CHIP_DEFS[chip].CHIP_NAME}" for chip in internal
        )
        said = (
            f"the boot line reads low, which shows nothing of the module: the pull-up on its "
            f"boot pin ({pins}) is inside the chip and off while EN holds it in reset"
        )
        if Chip.ESP32C3 in internal:
            said += "; a C3 socket's own pull-up on GPIO9 (hw/README.md) reads low unpowered"
        if self.chip == AUTO:
            said += "; on an ESP-01S (ESP8266, its own pull-up on GPIO0) no module is there"
        return (
            f"{said}; is a module seated and powered, are its serial line, EN and boot pin wired?"
        )

    def close(self) -> None:
        self.boot.close()
        self.en.close()
