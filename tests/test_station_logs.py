"""The daemon's logging: stderr with or without timestamps, journald's stream with priority
prefixes, and journald with structured fields."""

import logging
import os
import re
import sys

import pytest

from flashjig.station import logs


@pytest.fixture
def clean_logging(monkeypatch):
    """Undo setup_logging's root handler and level after the test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    for name in ("INVOCATION_ID", "JOURNAL_STREAM"):
        monkeypatch.delenv(name, raising=False)
    yield
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def log_flashed() -> None:
    logging.getLogger("flashjig.test").warning(
        "socket1: flashed %s",
        "5c:cf:7f:01:02:03",
        extra={"SOCKET": "socket1", "MAC": "5c:cf:7f:01:02:03", "RESULT": "ok"},
    )


def test_logs_to_stderr_with_timestamp(clean_logging, capfd):
    logs.setup_logging()
    log_flashed()
    err = capfd.readouterr().err
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} flashjig: WARNING: socket1: flashed "
        r"5c:cf:7f:01:02:03\n",
        err,
    ), err


def test_logs_to_a_terminal_without_timestamp(clean_logging, capfd, monkeypatch):
    monkeypatch.setattr(logs, "_stderr_isatty", lambda: True)
    monkeypatch.setenv("INVOCATION_ID", "0123456789abcdef")  # inherited, not our service
    logs.setup_logging()
    log_flashed()
    assert capfd.readouterr().err == "flashjig: WARNING: socket1: flashed 5c:cf:7f:01:02:03\n"


def test_logs_levels(clean_logging, capfd):
    logs.setup_logging()
    log = logging.getLogger("flashjig.test")
    log.info("shown")
    log.debug("hidden")
    logs.setup_logging(verbose=True)
    log.debug("detail")
    err = capfd.readouterr().err
    assert "INFO: shown" in err
    assert "hidden" not in err
    assert "DEBUG: detail" in err
    assert sum(getattr(h, "_flashjig", False) for h in logging.getLogger().handlers) == 1


def test_logs_to_journal_stream_without_systemd_python(clean_logging, capfd, monkeypatch):
    """Stderr connected to journald: no timestamp, a priority prefix instead."""
    monkeypatch.setattr(logs, "JournalHandler", None)
    st = os.fstat(sys.stderr.fileno())
    monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")
    logs.setup_logging()
    log_flashed()
    assert capfd.readouterr().err == "<4>flashjig: WARNING: socket1: flashed 5c:cf:7f:01:02:03\n"


@pytest.mark.skipif(logs.JournalHandler is None, reason="systemd-python not installed")
def test_logs_to_journald_with_fields(clean_logging, monkeypatch, tmp_path):
    journal_socket = tmp_path / "journal.socket"
    journal_socket.touch()
    monkeypatch.setattr(logs, "JOURNAL_SOCKET", str(journal_socket))
    monkeypatch.setattr(logs, "_stderr_isatty", lambda: False)
    monkeypatch.setenv("INVOCATION_ID", "0123456789abcdef")
    logs.setup_logging()
    (handler,) = [h for h in logging.getLogger().handlers if getattr(h, "_flashjig", False)]
    assert isinstance(handler, logs.JournalHandler)

    sent = []
    monkeypatch.setattr(logs.journal, "send", lambda msg, **fields: sent.append((msg, fields)))
    log_flashed()
    ((message, fields),) = sent
    assert message == "socket1: flashed 5c:cf:7f:01:02:03"
    # Only journal fields: not the record's other attributes (msg, args, levelname, ...).
    assert all(re.fullmatch(r"[A-Z][A-Z0-9_]*", name) for name in fields), fields
    assert fields["SYSLOG_IDENTIFIER"] == "flashjig"
    assert fields["PRIORITY"] == "4"
    assert fields["SOCKET"] == "socket1"
    assert fields["MAC"] == "5c:cf:7f:01:02:03"
    assert fields["RESULT"] == "ok"


def test_logs_without_journald_stay_on_stderr(clean_logging, monkeypatch, tmp_path):
    monkeypatch.setattr(logs, "JOURNAL_SOCKET", str(tmp_path / "missing"))
    monkeypatch.setattr(logs, "_stderr_isatty", lambda: False)
    monkeypatch.setenv("INVOCATION_ID", "0123456789abcdef")
    logs.setup_logging()
    (handler,) = [h for h in logging.getLogger().handlers if getattr(h, "_flashjig", False)]
    assert type(handler) is logging.StreamHandler
