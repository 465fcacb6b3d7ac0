"""Did it boot? Listen to a module's firmware on its serial port.

After writing, the station opens the port at the firmware's baud, straps the module into
its firmware and waits for the line the firmware prints when ready. With burn-in it
keeps listening: a reset (the ready line again, or the ROM's banner where the firmware
runs at 74880), an exception dump or a watchdog reset fails the unit, with what it
printed.

Over native USB (``reopen``) the reset takes the device away, so the port is opened once
it is back: what the firmware printed meanwhile is lost, and the firmware must say its
ready line after USB is up (again, now and then); a reset during burn-in shows as the
device going away.
"""

import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import serial

from flashjig.config import BootCheck, BurnIn
from flashjig.flashing.result import Cancelled, Reason

KEEP_LINES = 20  # what the journal keeps of a module's output
READ_CHUNK_S = 0.1
REOPEN_S = 0.05  # native USB: how often to look for the device to be back


@dataclass
class Listening:
    """What a module printed while we listened, and what it means."""

    failure: Reason | None = None  # None: it booted (and lasted its burn-in)
    reason: str = ""  # what went wrong, in words
    lines: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failure is None

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
    reopen: bool = False,
) -> Listening:
    """Open the port first (opening flushes it), then reboot the module into its
    firmware, wait for ``check.pattern``, and burn in if asked. ``cancel`` set while it
    listens raises Cancelled (within a read, 0.1 s). With ``reopen`` (native USB), reboot
    first and open the port once its device is back."""
    cancel = cancel or threading.Event()
    if reopen:
        reboot()
        link = _open_when_back(port, baud, time.monotonic() + check.timeout, cancel)
        if link is None:
            return Listening(
                Reason.DID_NOT_BOOT,
                f"its USB device did not come back within {check.timeout:g} s",
            )
    else:
        link = serial.Serial(port, baud, timeout=READ_CHUNK_S)
        reboot()
    with link:
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
            return Listening(Reason.DID_NOT_BOOT, reason, _lines(text))
        if burn_in is None:
            return Listening(lines=_lines(text))
        return _burn_in(link, text, match.end(), ready, burn_in, cancel, usb=reopen)


def _open_when_back(
    port: str, baud: int, deadline: float, cancel: threading.Event
) -> serial.Serial | None:
    """The port, opened once its USB device is back on the bus after a reset."""
    while time.monotonic() < deadline:
        _check(cancel)
        if os.path.exists(port):
            try:
                return serial.Serial(port, baud, timeout=READ_CHUNK_S)
            except serial.SerialException:
                pass  # the old device, going as it resets
        time.sleep(REOPEN_S)
    return None


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
    *,
    usb: bool,
) -> Listening:
    """Over USB the firmware says its ready line again and again; a restart takes the
    device away instead."""
    failures = [re.compile(p) for p in burn_in.fail_patterns]
    deadline = time.monotonic() + burn_in.seconds
    while time.monotonic() < deadline:
        _check(cancel)
        try:
            text += link.read(4096).decode("utf-8", "replace")
        except (serial.SerialException, OSError):
            if not usb:
                raise
            return Listening(
                Reason.BURN_IN_FAILED,
                "burn-in: the module reset (its USB device went away)",
                _lines(text),
            )
        after = text[start:]
        for regex in failures:
            if found := regex.search(after):
                return Listening(
                    Reason.BURN_IN_FAILED, f"burn-in: printed {found.group(0)!r}", _lines(text)
                )
        if not usb and ready.search(after):
            return Listening(Reason.BURN_IN_FAILED, "burn-in: the firmware restarted", _lines(text))
    return Listening(lines=_lines(text))
