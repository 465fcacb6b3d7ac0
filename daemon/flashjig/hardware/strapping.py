"""Strapping sequences: how the station puts a module into its ROM bootloader or back
into its firmware. The boot line is the strap the chip samples as EN rises (GPIO0 on an
ESP8266, ESP32 or ESP32-S3, GPIO9 on an ESP32-C3). The timings are esptool's and
esp-serial-flasher's (EN low 100 ms, the boot line held past the rising edge, where the chip
samples it)."""

import time
from dataclasses import dataclass, field
from typing import Protocol

from esptool.reset import DEFAULT_RESET_DELAY

from flashjig.hardware.pins import StrapLine

RESET_HOLD_S = 0.1
# How long the boot line stays low after EN is let go, by connect attempt: esptool's own
# escalation. Its reset strategies on Linux (loader.py, _construct_reset_strategy_sequence)
# are UnixTightReset and ClassicReset with ``delay`` = DEFAULT_RESET_DELAY (0.05 s,
# esp_pylib/serial_reset.py) and then ``extra_delay`` = DEFAULT_RESET_DELAY + 0.5, "for
# boards with a slow EN RC": the chip samples its strap when EN, rising through its RC,
# crosses the threshold, which on such boards comes after 50 ms. esptool cycles back to the
# short one; a socket's EN RC does not change between attempts, so later attempts keep the
# long one.
BOOT_HOLDS_S = (DEFAULT_RESET_DELAY, DEFAULT_RESET_DELAY + 0.5)


def boot_hold(attempt: int) -> float:
    """The boot line's hold past EN's rise on connect attempt ``attempt`` (1 the first)."""
    return BOOT_HOLDS_S[min(max(attempt, 1), len(BOOT_HOLDS_S)) - 1]


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
        if self.module_on_boot_line():
            return "a module's pull-up is on the boot line: is its serial line, or EN, wired?"
        return (
            "no module's pull-up on the boot line: is a module seated and powered, "
            "is its boot pin (GPIO0, GPIO9 on a C3) wired?"
        )

    def close(self) -> None:
        self.boot.close()
        self.en.close()
