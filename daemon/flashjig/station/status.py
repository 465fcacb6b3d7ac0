"""What a station and its sockets are doing, as typed values built once per ask.

``flashjig status --json`` (through the control socket), the status page and the MQTT
states all render a ``StationStatus``; none of them counts anything itself. A
``SocketStatus`` is frozen: a socket moves to a new one through the transitions below
(a typo is mypy's error, not a new attribute), and whoever holds one holds a snapshot.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field, replace
from typing import Any

from flashjig.flashing.result import FlashResult, Outcome, Reason, Stage
from flashjig.hardware.leds import Look
from flashjig.station.advice import what_to_try
from flashjig.station.journal import Counts
from flashjig.station.rates import LearnedRates


class SocketState(enum.StrEnum):
    EMPTY = "empty"
    INSERTED = "inserted"
    FLASHING = "flashing"
    OK = "ok"
    FAILED = "failed"

    @property
    def look(self) -> Look:
        """What the socket's light shows in this state."""
        return _LOOKS[self]


_LOOKS = {
    SocketState.EMPTY: Look.OFF,
    SocketState.INSERTED: Look.WAITING,
    SocketState.FLASHING: Look.BUSY,
    SocketState.OK: Look.GOOD,
    SocketState.FAILED: Look.BAD,
}


@dataclass(frozen=True)
class SocketStatus:
    """What status views, LEDs and MQTT show for a socket."""

    name: str
    state: SocketState = SocketState.EMPTY
    stage: Stage | None = None
    progress: float = 0.0
    attempt: int = 0
    profile: str | None = None
    mac: str | None = None
    outcome: Outcome | None = None  # of the last finished attempt
    reason: Reason | None = None
    detail: str = ""
    duration_s: float | None = None
    serial: int | None = None  # the unit's, when its profile hands them out
    client_id: str | None = None
    flash_size: str | None = None  # what the module really holds
    claimed_flash_size: str | None = None  # what a counterfeit's id claims
    since: float = field(default_factory=time.time)  # when it entered its state
    rates: LearnedRates | None = None  # what its next module starts at

    # -- transitions ---------------------------------------------------------------------

    def inserted(self) -> SocketStatus:
        """A module seated: nothing known of it yet."""
        return replace(
            self,
            state=SocketState.INSERTED,
            stage=None,
            progress=0.0,
            attempt=0,
            mac=None,
            outcome=None,
            reason=None,
            detail="",
            duration_s=None,
            serial=None,
            client_id=None,
            flash_size=None,
            claimed_flash_size=None,
            since=self._since(SocketState.INSERTED),
        )

    def emptied(self) -> SocketStatus:
        """The module taken out; its last result stays on show."""
        since = self._since(SocketState.EMPTY)
        return replace(self, state=SocketState.EMPTY, stage=None, progress=0.0, since=since)

    def flashing(self) -> SocketStatus:
        return replace(
            self,
            state=SocketState.FLASHING,
            stage=Stage.CONNECTING,
            progress=0.0,
            since=self._since(SocketState.FLASHING),
        )

    def attempting(self, attempt: int, profile: str) -> SocketStatus:
        return replace(self, attempt=attempt, profile=profile)

    def progressed(self, stage: Stage, percent: float, mac: str | None) -> SocketStatus:
        """A stage's progress; the MAC once the module has been identified."""
        return replace(self, stage=stage, progress=percent, mac=mac or self.mac)

    def finished(self, result: FlashResult, *, removed: bool) -> SocketStatus:
        """The attempts are over: ok or failed, or empty when the module was taken out."""
        if removed:
            state = SocketState.EMPTY
        else:
            state = SocketState.OK if result.ok else SocketState.FAILED
        return replace(
            self,
            state=state,
            stage=None,
            progress=100.0 if result.ok else self.progress,
            outcome=result.outcome,
            reason=result.reason,
            detail=result.detail,
            mac=result.mac,
            duration_s=result.duration_s,
            serial=result.serial,
            client_id=result.client_id,
            flash_size=result.flash_size,
            claimed_flash_size=result.claimed_flash_size,
            since=self._since(state),
        )

    def with_rates(self, rates: LearnedRates) -> SocketStatus:
        return replace(self, rates=rates)

    def _since(self, state: SocketState) -> float:
        return self.since if state is self.state else time.time()

    # -- as shown ------------------------------------------------------------------------

    @property
    def advice(self) -> str:
        """What to try, for the last result (see flashjig.station.advice)."""
        return what_to_try(self.reason, self.flash_size, self.claimed_flash_size)

    def as_dict(self) -> dict[str, Any]:
        """What ``flashjig status --json`` shows of a socket (the MQTT state adds
        ``inserted``)."""
        return {
            "name": self.name,
            "state": self.state.value,
            "look": self.state.look.value,  # what its light shows: off, waiting, busy, good, bad
            "stage": self.stage or "",
            "progress": round(self.progress, 1),
            "attempt": self.attempt,
            "profile": self.profile,
            "mac": self.mac,
            "last_result": self.outcome,
            "reason": self.reason or "",
            "detail": self.detail,
            "duration_s": self.duration_s,
            "serial": self.serial,
            "client_id": self.client_id,
            "flash_size": self.flash_size,
            "claimed_flash_size": self.claimed_flash_size,
            "advice": self.advice,
            "since": self.since,
            "rates": self.rates.as_dict() if self.rates else None,
        }


@dataclass(frozen=True)
class LabelsStatus:
    """The labels waiting for the printer and given up (from the journal: they outlive a
    restart), the last failure's reason, and what holds the printer's queue now."""

    waiting: int = 0
    failed: int = 0
    last_failure: str = ""
    problem: str = ""

    def as_dict(self) -> dict[str, int | str]:
        return {
            "waiting": self.waiting,
            "failed": self.failed,
            "last_failure": self.last_failure,
            "problem": self.problem,
        }


@dataclass(frozen=True)
class StationStatus:
    """The whole station at one moment."""

    station: str
    profile: str
    trigger: str
    paused: str | None  # why no new module is taken (drained), else None
    journal_problem: str | None  # why the journal cannot be written, else None
    accepting: bool
    healthy: bool
    uptime_s: float
    today: Counts
    total: Counts
    sockets: tuple[SocketStatus, ...]
    labels: LabelsStatus
    broker: str | None = None  # the MQTT connection in words, for a station reporting there
    serial_range: tuple[int, int] | None = None  # for a profile that hands out serials
    batch: int | None = None  # the modules in the batch at hand (station.batch)
    profiles: tuple[str, ...] = ()  # the config's, any of which may be made active

    @property
    def batch_left(self) -> int | None:
        """The batch's modules still to flash: the batch less today's ok ones."""
        return None if self.batch is None else max(0, self.batch - self.today.ok)

    @property
    def flashing(self) -> int:
        """Sockets flashing now: by state, not by worker thread (the worker that reports
        ``ok`` is still alive)."""
        return sum(s.state is SocketState.FLASHING for s in self.sockets)

    @property
    def journal(self) -> str:
        """The journal in words: "ok" or what is wrong with it."""
        return self.journal_problem or "ok"

    def as_dict(self) -> dict[str, Any]:
        """``flashjig status --json``, the control socket's and the status page's shape."""
        status: dict[str, Any] = {
            "station": self.station,
            "profile": self.profile,
            "profiles": list(self.profiles),
            "trigger": self.trigger,
            "accepting": self.accepting,
            "paused": self.paused or "",
            "journal": self.journal,
            "uptime_s": round(self.uptime_s, 1),
            "today": self.today.as_dict(),
            "total": self.total.as_dict(),
            "sockets": [s.as_dict() for s in self.sockets],
            "labels": self.labels.as_dict(),
        }
        if self.broker is not None:
            status["broker"] = self.broker
        if self.batch is not None:
            status["batch"] = {"size": self.batch, "left": self.batch_left}
        return status
