"""The rates a connect goes at: a faster start than esptool's, and what it falls back to.

Every tool syncs at 115200 baud and uploads the flasher stub at that rate (esptool 5.6's
ESP8266 stub is 12,376 bytes: 1.07 s on the wire) before it raises the rate. The ROMs allow
more:

- The ESP8266 ROM has no CHANGE_BAUDRATE but auto-bauds: "the sync packets can be sent at
  any baud rate, and the UART peripheral will detect this" (esptool docs, Serial Protocol,
  Initial Synchronisation: https://docs.espressif.com/projects/esptool/en/latest/esp8266/
  advanced-topics/serial-protocol.html; esptool's loader: "The ROM auto-bauds"). Synced at
  460800 it takes the stub in 0.27 s. 460800 is the highest rate reported reliable (esptool
  issue 44: "reliably upload repeatedly at 230400, 460800"; Cesanta's flasher notes call
  921600 "unreliable"; the Arduino core caps uploads at 460800, esptool issue 435), hence the
  default.
- The ESP32 family's ROMs take CHANGE_BAUDRATE (esptool's ESP32 ROM class corrects it for the
  RTC clock the ROM measured its crystal by): the rate changes before the stub goes up.

Nothing here was tried on a real chip, so a faster step is tried once per attempt and any
failure of it (no answer at the rate, a garbled upload, a rate change the line does not
survive) takes the module through esptool's path, 115200 then esptool's own change_baud,
within the same attempt (one rate lower when it was the write rate the line did not hold:
the attempt would fail at it again); retries never go fast.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from flashjig.config.model import BAUD_RATES

ROM_BAUD = 115200  # what every ROM answers at, and the fallback of every faster step
FAST_SYNC_BAUD = 460800  # the ESP8266 ROM's highest reported-reliable auto-baud


class RateStep(enum.StrEnum):
    """The faster step an attempt fell back from ("" for none): the journal keeps it."""

    NONE = ""
    SYNC = "sync"  # the sync (or the stub's upload) at the fast sync rate
    ROM_CHANGE = "rom-baud"  # an ESP32-family ROM's change of rate before the stub
    STUB_CHANGE = "stub-baud"  # the stub's change to the write rate


@dataclass(frozen=True)
class FastConnect:
    """How an attempt may start faster than esptool: the rate an ESP8266 (or a socket that
    may hold one) is synced at, and whether an ESP32-family ROM switches to the write rate
    before the stub goes up."""

    sync: int = FAST_SYNC_BAUD
    rom_change: bool = True

    @classmethod
    def allowed(cls, sync: int, rom_change: bool) -> FastConnect | None:
        """The fast start these settings allow; None when they allow none (a sync at 115200
        and no ROM change: esptool's way)."""
        if sync <= ROM_BAUD and not rom_change:
            return None
        return cls(sync=sync, rom_change=rom_change)


def rate_below(baud: int) -> int:
    """The next rate down the config's ladder from ``baud`` (115200 at the bottom)."""
    lower = [rate for rate in BAUD_RATES if rate < baud]
    return max(lower, default=ROM_BAUD)


class TooFast(Exception):
    """A faster step did not hold; the attempt starts again the way esptool does."""

    def __init__(self, step: RateStep, why: str) -> None:
        super().__init__(why)
        self.step = step
