"""Logging for the daemon: journald with structured fields under systemd, else stderr.

Structured fields travel in ``extra=`` with upper-case names, which the journal keeps as
fields (``journalctl -u flashjig SOCKET=socket1``)::

    log.info("%s: flashed %s", socket, mac, extra={"SOCKET": socket, "MAC": mac, "RESULT": "ok"})

On stderr only the message is printed: it already names the socket and the MAC.
"""

import logging
import os
import re
import sys
from collections.abc import Mapping

try:
    import systemd.journal as journal
except ImportError:  # systemd-python is optional: stderr only
    journal = None
JournalHandler = journal.JournalHandler if journal is not None else None

IDENTIFIER = "flashjig"
# journald's native protocol socket; without it JournalHandler's messages are lost.
JOURNAL_SOCKET = "/run/systemd/journal/socket"

# journald's rule for field names a client may send (systemd.journal-fields(7)): upper
# case, digits and "_", not starting with a digit or "_"; others it drops.
_FIELD_NAME = re.compile(r"[A-Z][A-Z0-9_]{0,63}")


def _send_fields(MESSAGE: str, **fields: object) -> None:
    """journal.send with only the valid fields: JournalHandler passes all of the record's
    attributes (msg, args, levelname, ...), and only the upper-case ones are meant for the
    journal."""
    journal.send(MESSAGE, **{k: v for k, v in fields.items() if _FIELD_NAME.fullmatch(k)})


class _PriorityFormatter(logging.Formatter):
    """Prefix each line with its syslog priority (sd-daemon(3)): journald reads it from a
    service's stderr."""

    def format(self, record: logging.LogRecord) -> str:
        level = record.levelno
        if level >= logging.CRITICAL:
            priority = 2
        elif level >= logging.ERROR:
            priority = 3
        elif level >= logging.WARNING:
            priority = 4
        elif level >= logging.INFO:
            priority = 6
        else:
            priority = 7
        return f"<{priority}>{super().format(record)}"


def setup_logging(*, verbose: bool = False) -> None:
    """Send the root logger to journald when running under systemd (and systemd-python is
    installed), else to stderr as ``flashjig: LEVEL: message``. Calling it again replaces
    the handler it installed before."""
    environ = os.environ
    journal_stderr = _stderr_is_journal(environ)
    stderr_tty = _stderr_isatty()
    # INVOCATION_ID is inherited by everything a service starts, desktop terminals included:
    # with stderr on a terminal someone is watching, keep the output there.
    under_systemd = journal_stderr or (bool(environ.get("INVOCATION_ID")) and not stderr_tty)

    if under_systemd and JournalHandler is not None and os.path.exists(JOURNAL_SOCKET):
        handler: logging.Handler = JournalHandler(
            SYSLOG_IDENTIFIER=IDENTIFIER, sender_function=_send_fields
        )
    else:
        handler = logging.StreamHandler(sys.stderr)
        fmt = f"{IDENTIFIER}: %(levelname)s: %(message)s"
        if journal_stderr:
            # journald timestamps each line itself; the prefix sets its priority.
            handler.setFormatter(_PriorityFormatter(fmt))
        elif stderr_tty:
            handler.setFormatter(logging.Formatter(fmt))
        else:
            handler.setFormatter(logging.Formatter("%(asctime)s " + fmt))
    # A mark on the stdlib handler (typeshed rightly has no such attribute): the handler
    # installed before is found by it and replaced.
    handler._flashjig = True  # type: ignore[attr-defined]

    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_flashjig", False)]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)


def _stderr_is_journal(environ: Mapping[str, str]) -> bool:
    """JOURNAL_STREAM names the device:inode of the stream systemd connected to journald;
    it only counts if stderr is still that stream (systemd.exec(5))."""
    value = environ.get("JOURNAL_STREAM", "")
    dev, sep, ino = value.partition(":")
    if not sep:
        return False
    try:
        st = os.fstat(sys.stderr.fileno())
        return (st.st_dev, st.st_ino) == (int(dev), int(ino))
    except (AttributeError, OSError, ValueError):
        return False  # stderr replaced by something without a descriptor, or a bad value


def _stderr_isatty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False
