"""Did it boot? Listen to a module's firmware on its serial port.

After writing, the station straps the module into its firmware and listens at the
firmware's baud for the line it prints when ready. For burn-in it keeps listening: a
reset (the ready line again, or the ROM's banner where the firmware runs at 74880), an
exception dump or a watchdog reset fails the unit, with what it printed.
"""

import re
import time
from dataclasses import dataclass, field

import serial

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


class _Reader:
    def __init__(self, port: str, baud: int) -> None:
        self.port = serial.Serial(port, baud, timeout=READ_CHUNK_S)
        self.text = ""

    def read(self) -> str:
        chunk = self.port.read(4096).decode("utf-8", "replace")
        self.text += chunk
        return chunk

    def lines(self) -> list[str]:
        return [line.strip() for line in self.text.splitlines() if line.strip()]

    def close(self) -> None:
        self.port.close()


def wait_for_boot(port: str, baud: int, pattern: str, timeout: float) -> Listening:
    """Listen until ``pattern`` shows up or ``timeout`` passes."""
    reader = _Reader(port, baud)
    try:
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while time.monotonic() < deadline:
            reader.read()
            if regex.search(reader.text):
                return Listening(True, lines=reader.lines())
        said = "nothing" if not reader.text.strip() else "no line matching it"
        return Listening(
            False,
            f"did not boot: printed {said} within {timeout:g} s (expected /{pattern}/)",
            reader.lines(),
        )
    finally:
        reader.close()


def burn_in(
    port: str, baud: int, seconds: float, *, ready: str | None, fail_patterns: tuple[str, ...]
) -> Listening:
    """Keep listening for ``seconds``: any fail pattern, or the ready line again (the
    firmware restarted), fails the unit."""
    reader = _Reader(port, baud)
    failures = [re.compile(p) for p in fail_patterns]
    restarted = re.compile(ready) if ready else None
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            reader.read()
            for regex in failures:
                if match := regex.search(reader.text):
                    return Listening(False, f"burn-in: printed {match.group(0)!r}", reader.lines())
            if restarted is not None and restarted.search(reader.text):
                return Listening(False, "burn-in: the firmware restarted", reader.lines())
        return Listening(True, lines=reader.lines())
    finally:
        reader.close()
