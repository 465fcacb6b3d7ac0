"""The attempt journal and ``flashjig history`` over it."""

import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest

from flashjig.cli.history import format_table, parse_since, run_history
from flashjig.flashing.result import FlashResult, Outcome, Reason
from flashjig.station.journal import (
    INTERRUPTED_DETAIL,
    JOURNAL_FILE,
    ROW_KEYS,
    SCHEMA_VERSION,
    Journal,
)

IMAGES = [{"offset": 0, "file": "/srv/fw/app.bin", "sha256": "ab" * 32, "size": 4096}]


def ok_result(socket: str = "s1", **fields) -> FlashResult:
    values = dict(
        mac="5c:cf:7f:01:02:03",
        chip="ESP8266EX",
        flash_id="1640ef",
        flash_size="4MB",
        images=IMAGES,
        bytes=4096,
        baud=460800,
        duration_s=7.25,
    )
    values.update(fields)
    return FlashResult(socket=socket, result=Outcome.OK, profile="demo", **values)


def failed_result(socket: str = "s1", reason: Reason = Reason.NO_SYNC) -> FlashResult:
    return FlashResult(
        socket=socket, result=Outcome.FAILED, reason=reason, detail="no answer", duration_s=2.5
    )


def record(journal: Journal, result: FlashResult, **start) -> dict:
    attempt = journal.start_attempt(
        socket=result.socket, profile="demo", images=IMAGES, baud=460800, **start
    )
    return journal.finish_attempt(attempt, result)


@pytest.fixture
def journal(tmp_path):
    with Journal(tmp_path / "state" / JOURNAL_FILE, station="jig-1") as journal:
        yield journal


def test_start_then_finish_records_every_field(journal):
    attempt = journal.start_attempt(socket="s1", profile="demo", images=IMAGES, baud=460800)
    started = journal.attempts()[0]
    assert started.id == attempt and started.result == "started"
    assert started.finished_at is None

    row = journal.finish_attempt(attempt, ok_result())

    assert list(row.as_dict()) == list(ROW_KEYS)
    assert row == journal.attempts()[0]
    assert row.result == "ok" and row.station == "jig-1" and row.socket == "s1"
    assert row.mac == "5c:cf:7f:01:02:03" and row.flash_size == "4MB"
    assert row.images == IMAGES and row.bytes == 4096 and row.duration_s == 7.25
    assert row.started_at.endswith("Z") and row.finished_at.endswith("Z")
    started_at = datetime.fromisoformat(row.started_at)
    finished_at = datetime.fromisoformat(row.finished_at)
    assert started_at.tzinfo is not None
    assert started_at <= finished_at <= datetime.now(UTC)


def test_finish_keeps_planned_images_and_marks_cancels(journal):
    failed = record(journal, failed_result(), retry=1)
    assert failed.result == "failed" and failed.reason == "no sync"
    assert failed.images == IMAGES and failed.baud == 460800 and failed.retry == 1
    cancelled = record(journal, failed_result(reason=Reason.CANCELLED))
    assert cancelled.result == "cancelled"
    with pytest.raises(KeyError):
        journal.finish_attempt(999, ok_result())


def test_attempt_left_started_is_interrupted_on_reopen(tmp_path):
    path = tmp_path / JOURNAL_FILE
    journal = Journal(path)
    attempt = journal.start_attempt(socket="s2", profile="demo", images=IMAGES, baud=115200)
    journal.close()  # dropped without finishing, as a crash would leave it

    with Journal(path) as reopened:
        assert reopened.recovered == 1
        [row] = reopened.attempts()
    assert row.id == attempt and row.result == "interrupted"
    assert row.reason == "interrupted" and row.detail == INTERRUPTED_DETAIL
    assert row.finished_at >= row.started_at
    with Journal(path) as again:
        assert again.recovered == 0


@pytest.mark.parametrize("death", ["os._exit(0)", "os.kill(os.getpid(), signal.SIGKILL)"])
def test_attempt_of_a_killed_process_is_interrupted(tmp_path, death):
    path = tmp_path / JOURNAL_FILE
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        from flashjig.station.journal import Journal
        journal = Journal(sys.argv[1])
        journal.start_attempt(socket="s3", profile="demo", images=[], baud=115200)
        {death}
        """
    )
    done = subprocess.run([sys.executable, "-c", script, str(path)], timeout=30)
    assert done.returncode in (0, -9)

    with Journal(path) as journal:
        assert journal.recovered == 1
        [row] = journal.attempts()
    assert row.socket == "s3" and row.result == "interrupted"


def test_wal_and_full_sync_in_force(journal):
    conn = journal._conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] > 0
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert (journal.path.parent.stat().st_mode & 0o777) == 0o750


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / JOURNAL_FILE
    Journal(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(RuntimeError, match="newer"):
        Journal(path)


def test_concurrent_finishes_from_eight_threads(journal):
    barrier = threading.Barrier(8)
    errors = []

    def socket(n: int) -> None:
        try:
            attempt = journal.start_attempt(
                socket=f"s{n}", profile="demo", images=IMAGES, baud=460800
            )
            barrier.wait(timeout=10)
            for _ in range(5):
                journal.counts()
            journal.finish_attempt(attempt, ok_result(f"s{n}"))
        except Exception as e:  # collected: an exception in a thread would pass unseen
            errors.append(e)

    threads = [threading.Thread(target=socket, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    rows = journal.attempts()
    assert sorted(row.socket for row in rows) == [f"s{n}" for n in range(8)]
    assert all(row.result == "ok" for row in rows)


def test_readonly_sees_an_open_writer_and_cannot_write(journal):
    record(journal, ok_result())
    with Journal(journal.path, readonly=True) as reader:
        assert [row.result for row in reader.attempts()] == ["ok"]
        record(journal, failed_result())  # writer still open, writing on
        assert [row.result for row in reader.attempts()] == ["ok", "failed"]
        assert reader.recovered == 0
        with pytest.raises(PermissionError):
            reader.start_attempt(socket="s1", profile="demo", images=[], baud=115200)
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader._conn.execute("DELETE FROM attempts")
    assert len(journal.attempts()) == 2


def test_readonly_does_not_recover_or_create(tmp_path, journal):
    journal.start_attempt(socket="s1", profile="demo", images=[], baud=115200)
    with Journal(journal.path, readonly=True) as reader:
        assert reader.attempts()[0].result == "started"
    with pytest.raises(FileNotFoundError, match="no journal at"):
        Journal(tmp_path / "missing" / JOURNAL_FILE, readonly=True)
    assert not (tmp_path / "missing").exists()


def test_counts_and_attempts_since(journal):
    record(journal, ok_result())
    record(journal, failed_result())
    with sqlite3.connect(journal.path) as conn:  # backdate the first two
        conn.execute("UPDATE attempts SET started_at = '2020-01-01T00:00:00.000Z'")
    record(journal, ok_result())
    record(journal, failed_result())
    record(journal, failed_result(reason=Reason.CANCELLED))
    journal.start_attempt(socket="s1", profile="demo", images=[], baud=115200)

    assert journal.counts() == {"ok": 2, "failed": 3, "total": 6}
    since = datetime.now(UTC) - timedelta(hours=1)
    assert journal.counts(since=since) == {"ok": 1, "failed": 2, "total": 4}
    assert journal.counts(since=datetime(2030, 1, 1, tzinfo=UTC)) == {
        "ok": 0,
        "failed": 0,
        "total": 0,
    }
    recent = journal.attempts(since=since)
    assert [row.result for row in recent] == ["ok", "failed", "cancelled", "started"]
    assert [row.result for row in journal.attempts(limit=2)] == ["cancelled", "started"]


NOW = datetime(2026, 11, 25, 15, 30, tzinfo=UTC)


def local_midnight(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day).astimezone()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90m", NOW - timedelta(minutes=90)),
        ("12h", NOW - timedelta(hours=12)),
        ("2d", NOW - timedelta(days=2)),
        ("1w", NOW - timedelta(weeks=1)),
        ("2026-11-20T08:00Z", datetime(2026, 11, 20, 8, tzinfo=UTC)),
        (
            "2026-11-20T08:00+02:00",
            datetime(2026, 11, 20, 8, tzinfo=timezone(timedelta(hours=2))),
        ),
        ("2026-11-20T08:00", datetime(2026, 11, 20, 8).astimezone()),
        ("2026-11-20", local_midnight(2026, 11, 20)),
    ],
)
def test_parse_since_accepts(text, expected):
    assert parse_since(text, now=NOW) == expected


def test_parse_since_today_and_yesterday_are_local_midnights():
    today = NOW.astimezone().date()
    assert parse_since("today", now=NOW) == local_midnight(today.year, today.month, today.day)
    yesterday = today - timedelta(days=1)
    assert parse_since("Yesterday", now=NOW) == local_midnight(
        yesterday.year, yesterday.month, yesterday.day
    )
    assert parse_since("today", now=NOW).tzinfo is not None


@pytest.mark.parametrize("text", ["xyz", "12", "3y", "-2d", "2026-13-01", ""])
def test_parse_since_rejects(text):
    with pytest.raises(ValueError, match=r"^--since: cannot read .*; use "):
        parse_since(text, now=NOW)


@pytest.fixture
def populated(tmp_path, journal):
    record(journal, ok_result("s1"))
    record(journal, failed_result("s2"))
    return journal.path.parent


def test_history_json(populated, capsys):
    assert run_history(populated, since=None, fmt="json") == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(row["socket"], row["result"]) for row in rows] == [("s1", "ok"), ("s2", "failed")]
    assert list(rows[0]) == list(ROW_KEYS) and rows[0]["images"] == IMAGES


def test_history_csv(populated, capsys):
    assert run_history(populated, since="1d", fmt="csv") == 0
    out = capsys.readouterr().out
    rows = list(csv.DictReader(io.StringIO(out)))
    assert out.splitlines()[0].split(",") == list(ROW_KEYS)
    assert [row["result"] for row in rows] == ["ok", "failed"]
    assert json.loads(rows[0]["images"]) == IMAGES and rows[1]["mac"] == ""


def test_history_table(populated, capsys):
    assert run_history(populated, since="today", fmt="table") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["TIME", "SOCKET", "RESULT", "REASON", "MAC", "SIZE", "DURATION"]
    assert "s1" in lines[1] and "5c:cf:7f:01:02:03" in lines[1] and "7.2s" in lines[1]
    assert "no sync" in lines[2]
    assert lines[-1] == "2 attempts: 1 ok, 1 failed"


def test_history_of_an_empty_journal(tmp_path, capsys):
    Journal(tmp_path / JOURNAL_FILE).close()
    assert run_history(tmp_path, since=None, fmt="json") == 0
    assert json.loads(capsys.readouterr().out) == []
    assert run_history(tmp_path, since=None, fmt="csv") == 0
    assert capsys.readouterr().out == ",".join(ROW_KEYS) + "\n"
    assert format_table([]).splitlines()[-1] == "0 attempts: 0 ok, 0 failed"


def test_history_without_a_journal(tmp_path, capsys):
    assert run_history(tmp_path, since=None, fmt="table") == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"flashjig history: no journal at {tmp_path / JOURNAL_FILE} (has the station run?)\n"
    )


def test_history_bad_since(populated, capsys):
    assert run_history(populated, since="soon", fmt="json") == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("flashjig history: --since: cannot read 'soon'")
    assert captured.err.count("\n") == 1


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_readonly_reader_without_write_access_to_the_directory(tmp_path):
    state = tmp_path / "state"
    with Journal(state / JOURNAL_FILE) as journal:
        record(journal, ok_result())
    state.chmod(0o550)
    try:
        with Journal(state / JOURNAL_FILE, readonly=True) as reader:
            assert [row.result for row in reader.attempts()] == ["ok"]
    finally:
        state.chmod(0o750)
