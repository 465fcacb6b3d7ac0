"""What an attempt comes to, in types the pipeline, the station, the journal and MQTT all
share: why it failed (``Reason``), where it is (``Stage``, ``Progress``) and how it ended
(``Outcome``, ``FlashResult``)."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any

from flashjig.errors import FlashjigError
from flashjig.flashing.rates import RateStep


class Reason(enum.StrEnum):
    """Why an attempt failed, in words for the journal, MQTT and the LED's owner."""

    NO_SYNC = "no sync"
    WRONG_CHIP = "wrong chip"
    FLASH_TOO_SMALL = "flash too small"
    VERIFY_FAILED = "verify failed"
    SERIAL_ERROR = "serial error"
    TIMEOUT = "timeout"
    CANCELLED = "cancelled"
    NO_IDENTITY = "no identity"
    IMAGE_LAYOUT = "image layout"
    BACKUP_FAILED = "backup failed"
    DID_NOT_BOOT = "did not boot"
    BURN_IN_FAILED = "burn-in failed"
    REMOVED = "module removed"  # taken out of its socket during the attempt
    INTERRUPTED = "interrupted"  # the station stopped during the attempt
    INTERNAL_ERROR = "internal error"  # a bug of ours; the log has the traceback

    @classmethod
    def _missing_(cls, value: object) -> Reason | None:
        """A reason another flashjig version wrote in the journal: keep its words."""
        if not isinstance(value, str) or not value:
            return None
        member = str.__new__(cls, value)
        member._name_ = value.upper().replace(" ", "_")
        member._value_ = value
        return member


class Outcome(enum.StrEnum):
    """How an attempt ended, as its journal row says (STARTED: it has not yet)."""

    STARTED = "started"
    OK = "ok"
    FAILED = "failed"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"


# The outcomes that count as failed in counts and reports.
FAILED_OUTCOMES = (Outcome.FAILED, Outcome.INTERRUPTED, Outcome.CANCELLED)


class Stage(enum.StrEnum):
    CONNECTING = "connecting"
    STUB = "starting stub"
    BACKUP = "backing up"
    WRITING = "writing"
    VERIFYING = "verifying"
    BOOTING = "booting"
    BURN_IN = "burn-in"


@dataclass(frozen=True)
class Progress:
    """A structured progress event: bytes done of the whole job, not parsed from text."""

    socket: str
    stage: Stage
    done: int
    total: int
    mac: str | None = None  # set once the module has been identified

    @property
    def percent(self) -> float:
        return 100.0 * self.done / self.total if self.total else 0.0


@dataclass
class FlashResult:
    """One attempt's result. ``outcome`` is OK or FAILED (a cancel is FAILED for reason
    CANCELLED: the journal records it as CANCELLED); ``reason`` is None when it is OK."""

    socket: str
    outcome: Outcome = Outcome.FAILED
    reason: Reason | None = None
    detail: str = ""
    mac: str | None = None
    chip: str | None = None
    chip_revision: str | None = None  # v<major>.<minor> of an ESP32-family chip
    flash_id: str | None = None
    flash_size: str | None = None
    profile: str | None = None
    images: list[dict[str, Any]] = field(default_factory=list)
    bytes: int = 0
    baud: int = 0  # the rate the images were written at
    sync_baud: int = 0  # the rate the ROM was synced at (0: not synced)
    stub_baud: int = 0  # the rate the flasher stub went up at
    rate_fallback: RateStep = RateStep.NONE  # the faster step that did not hold
    duration_s: float = 0.0
    claimed_flash_size: str | None = None  # set when the chip claims more than it holds
    serial: int | None = None
    client_id: str | None = None
    backup: str | None = None  # where the read-back backup was kept
    boot_log: str | None = None  # the last lines the firmware printed (boot check)

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK

    def as_dict(self) -> dict[str, Any]:
        """The JSON ``flashjig flash`` prints: the outcome as "result", reason "" when
        there is none."""
        data = {("result" if k == "outcome" else k): v for k, v in asdict(self).items()}
        data["reason"] = self.reason or ""
        return data


class Failure(FlashjigError):
    """A step of the pipeline that failed, for ``reason``; the message is the detail."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class Cancelled(FlashjigError):
    """The operator cancelled the attempt (a long press, ``ctl cancel``, a stop)."""
