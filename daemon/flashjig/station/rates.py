"""What a socket has learned of its adapter: the rates its next module starts at.

A first attempt starts faster than esptool (flashing.rates); a step that does not hold
falls back within the attempt and the journal row says which. A socket learns from its own
rows on its current adapter, so what it knows survives a restart and is exactly what the
journal shows, and a swapped adapter starts from the defaults:

- the sync rate, from the ladder [station.sync_baud, 230400, 115200]: a rung is dropped
  after ``SYNC_TRIES`` or more tries at it of which under half synced (an adapter that
  never syncs high drops a rung every 4 modules; a third of ROMs failing keeps the rung:
  two in three modules save 0.8 s, the third loses 0.35 s);
- the write rate, from BAUD_RATES up to the profile's: the stub's change to a rate that
  fell back (the attempt then wrote one rate lower, flashing.pipeline) caps it there at
  once; a timeout or serial error once the stub ran is a strike, and a rate is dropped after
  2 strikes in its last 3 tries;
- an ESP32-family ROM's change of rate, off after ``ROM_FALLBACKS`` fallbacks.

Rates are only ever lowered while the station runs; retries never go fast (socket.py).
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass
from typing import Any

from flashjig.config import BAUD_RATES, StationConfig
from flashjig.flashing.rates import ROM_BAUD, FastConnect, RateStep
from flashjig.flashing.result import FlashResult, Reason
from flashjig.station.journal import AttemptRow

log = logging.getLogger(__name__)

LEARNED_FROM = 20  # the socket's last first attempts on its adapter that it learns from
SYNC_LADDER = (230400, ROM_BAUD)  # below station.sync_baud
SYNC_TRIES = 4  # tries at a sync rate before it can be judged
WRITE_TRIES = 3  # a write rate is judged by its last 3 tries...
WRITE_STRIKES = 2  # ...and dropped at 2 strikes among them
ROM_FALLBACKS = 2  # 'rom-baud' fallbacks that turn the ROM's change of rate off
WARN_MODULES = 6  # the fewest modules a warning speaks for
# A failure the line's rate may be behind, once the stub ran.
LINE_FAILURES = (Reason.TIMEOUT, Reason.SERIAL_ERROR)


@dataclass(frozen=True)
class Tried:
    """What one first attempt tells of the rates: the journal row's or the result's."""

    reason: Reason | None
    baud: int
    sync_baud: int
    stub_baud: int
    fallback: str

    @classmethod
    def of_row(cls, row: AttemptRow) -> Tried:
        return cls(row.reason, row.baud, row.sync_baud, row.stub_baud, row.rate_fallback)

    @classmethod
    def of_result(cls, result: FlashResult) -> Tried:
        fallback = str(result.rate_fallback)
        return cls(result.reason, result.baud, result.sync_baud, result.stub_baud, fallback)


@dataclass(frozen=True)
class LearnedRates:
    """A socket's rates for its next module, as the status shows them."""

    sync: int
    write: int
    adapter: str | None
    fallbacks: int  # of the modules learned from, those that needed a fallback

    def as_dict(self) -> dict[str, Any]:
        return {
            "sync": self.sync,
            "write": self.write,
            "adapter": self.adapter,
            "fallbacks": self.fallbacks,
        }


class SocketRates:
    """The rates one socket's modules start at on one adapter, learned from its attempts
    there (``history``: the journal's rows, oldest first) and from each one after."""

    def __init__(
        self,
        socket: str,
        adapter: str | None,
        settings: StationConfig,
        history: list[AttemptRow],
    ) -> None:
        self.socket = socket
        self.adapter = adapter
        self._sync_ladder = (settings.sync_baud,) + tuple(
            rate for rate in SYNC_LADDER if rate < settings.sync_baud
        )
        self._sync_tries = self._sync_ok = 0
        self._write_max = max(BAUD_RATES)
        self._write_tries: dict[int, deque[int]] = {}
        self._rom_change = settings.rom_baud_change
        self._rom_fallbacks = 0
        self._modules: deque[str] = deque(maxlen=LEARNED_FROM)  # each one's fallback
        self._warned = False
        for row in history:
            self._learn(Tried.of_row(row))
        self._warn_if_failing()

    @property
    def sync(self) -> int:
        return self._sync_ladder[0]

    def fast(self) -> FastConnect | None:
        """How the next module starts (None: as esptool does)."""
        return FastConnect.allowed(self.sync, self._rom_change)

    def write(self, profile_baud: int) -> int:
        """The rate the next module is written at, for a profile that asks ``profile_baud``."""
        ceiling = min(profile_baud, self._write_max)
        return max((rate for rate in BAUD_RATES if rate <= ceiling), default=ROM_BAUD)

    def shown(self, profile_baud: int) -> LearnedRates:
        fallbacks = sum(1 for step in self._modules if step)
        return LearnedRates(self.sync, self.write(profile_baud), self.adapter, fallbacks)

    def learn(self, result: FlashResult) -> None:
        """Take in a first attempt's outcome (a cancelled one tells nothing)."""
        if result.reason is not Reason.CANCELLED:
            self._learn(Tried.of_result(result))
            self._warn_if_failing()

    def _learn(self, tried: Tried) -> None:
        self._modules.append(tried.fallback)
        self._learn_sync(tried)
        self._learn_write(tried)
        if tried.fallback == RateStep.ROM_CHANGE:
            self._rom_fallbacks += 1
            self._rom_change = self._rom_change and self._rom_fallbacks < ROM_FALLBACKS

    def _learn_sync(self, tried: Tried) -> None:
        """A fallback from the sync is one at the rate tried: the current rung, since the
        socket always starts at it; a sync at it is one that held."""
        if tried.fallback == RateStep.SYNC:
            self._sync_tries += 1
        elif tried.sync_baud == self.sync > ROM_BAUD:
            self._sync_tries += 1
            self._sync_ok += 1
        failing = self._sync_tries >= SYNC_TRIES and 2 * self._sync_ok < self._sync_tries
        if failing and len(self._sync_ladder) > 1:
            self._sync_ladder = self._sync_ladder[1:]
            self._sync_tries = self._sync_ok = 0

    def _learn_write(self, tried: Tried) -> None:
        if tried.fallback == RateStep.STUB_CHANGE:  # the line held the rate below, not this
            self._write_max = min(self._write_max, tried.baud)
            return
        if tried.baud <= ROM_BAUD or not tried.stub_baud:
            return  # nothing to lower, or the stub never ran: the rate was not tried
        tries = self._write_tries.setdefault(tried.baud, deque(maxlen=WRITE_TRIES))
        tries.append(tried.reason in LINE_FAILURES)
        if sum(tries) >= WRITE_STRIKES:
            lower = max(rate for rate in BAUD_RATES if rate < tried.baud)
            self._write_max = min(self._write_max, lower)

    def _warn_if_failing(self) -> None:
        """Once per socket and adapter, when more than half its last 6 or more modules
        needed a fallback: in words, with what the socket does now."""
        fell_back = [step for step in self._modules if step]
        if self._warned or len(self._modules) < WARN_MODULES:
            return
        if 2 * len(fell_back) <= len(self._modules):  # a third of slow ROMs is no fault
            return
        self._warned = True
        steps = ", ".join(sorted(set(fell_back)))
        now = f"syncing at {self.sync}"
        if self._write_max < max(BAUD_RATES):
            now += f", writing at {self._write_max} at most"
        if not self._rom_change:
            now += ", no ROM rate change"
        log.warning(
            "%s: %d of the last %d modules needed a fallback (%s; adapter %s): %s from now;"
            " check the adapter and wiring",
            self.socket,
            len(fell_back),
            len(self._modules),
            steps,
            self.adapter or "unknown",
            now,
            extra={"SOCKET": self.socket},
        )
