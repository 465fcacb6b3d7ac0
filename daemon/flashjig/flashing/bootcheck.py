"""Did it boot? Listen to a module's firmware on its serial port.

After writing, the station opens the port at the firmware's baud, straps the module into
its firmware and waits for the line the firmware prints when ready. With burn-in it
keeps listening: a reset (the ready line again, or the ROM's banner where the firmware
runs at 74880), an exception dump or a watchdog reset fails the unit, with what it
printed.
"""

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import serial

from flashjig.config import BootCheck, BurnIn
from flashjig.flashing.result import Cancelled

KEEP_LINES = 20  # what the journal keeps of a module's output
READ_CHUNK_S = 0.1


@dataclass
class Listening:
    """What a module printed while we listened, and what it means."""

    ok: bool
    reason: str = ""
    lines: list[str] = field(default_factory=list)

    @property
    def log(self) -> str:
        return "\n".join(self.lines[-KEEP_LINES:])


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def check_boot(
    port: str,
    baud: int,
    *,
    reboot: Callable[[], None],
    check: BootCheck,
    burn_in: BurnIn | None = None,
    cancel: threading.Event | None = None,
) -> Listening:
    """Open the port first (opening flushes it), then reboot the module into its
    firmware, wait for ``check.pattern``, and burn in if asked. ``cancel`` set while it
    listens raises Cancelled (within a read, 0.1 s)."""
    cancel = cancel or threading.Event()
    with serial.Serial(port, baud, timeout=READ_CHUNK_S) as link:
        reboot()
        text = ""
        ready = re.compile(check.pattern)
        deadline = time.monotonic() + check.timeout
        match = None
        while match is None and time.monotonic() < deadline:
            _check(cancel)
            text += link.read(4096).decode("utf-8", "replace")
            match = ready.search(text)
        if match is None:
            said = "nothing" if not text.strip() else "no line matching it"
            reason = f"printed {said} within {check.timeout:g} s (expected /{check.pattern}/)"
            return Listening(False, reason, _lines(text))
        if burn_in is None:
            return Listening(True, lines=_lines(text))
        return _burn_in(link, text, match.end(), ready, burn_in, cancel)


def _check(cancel: threading.Event) -> None:
    if cancel.is_set():
        raise Cancelled("cancelled while listening to the firmware")


def _burn_in(
    link: serial.Serial,
    text: str,
    start: int,
    ready: re.Pattern[str],
    burn_in: BurnIn,
    cancel: threading.Event,
) -> Listening:
    failures = [re.compile(p) for p in burn_in.fail_patterns]
    deadline = time.monotonic() + burn_in.seconds
    while time.monotonic() < deadline:
        _check(cancel)
        text += link.read(4096).decode("utf-8", "replace")
        after = text[start:]
        for regex in failures:
            if found := regex.search(after):
                return Listening(False, f"burn-in: printed {found.group(0)!r}", _lines(text))
        if ready.search(after):
            return Listening(False, "burn-in: the firmware restarted", _lines(text))
    return Listening(True, lines=_lines(text))
