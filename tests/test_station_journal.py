"""The station's journal: an attempt's row written before the module is touched and
finished after, attempts a crash left open marked interrupted, readers beside the writer,
counts, and the units (a serial per MAC) it hands out."""

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers import IMAGES, failed_result, in_a_child_as_nobody, ok_result, record

from flashjig.config import Identity
from flashjig.errors import (
    JournalMissing,
    JournalNewerSchema,
    JournalNotAllowed,
    JournalUnreadable,
    JournalUnwritable,
    UnitsExhausted,
)
from flashjig.flashing.identity import client_id
from flashjig.flashing.rates import RateStep
from flashjig.flashing.result import Reason
from flashjig.station.journal import (
    INTERRUPTED_DETAIL,
    JOURNAL_FILE,
    MIGRATIONS,
    ROW_KEYS,
    SCHEMA_VERSION,
    Counts,
    Journal,
    LabelCounts,
)

# -- attempts -------------------------------------------------------------------------------


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
    with pytest.raises(JournalNewerSchema, match="newer"):
        Journal(path)


def journal_of_schema(path, version: int) -> sqlite3.Connection:
    """A journal file made by the first ``version`` migrations, as an older flashjig left
    it (the caller adds its rows and sets user_version)."""
    conn = sqlite3.connect(path)
    for statement in (s for migration in MIGRATIONS[:version] for s in migration):
        conn.execute(statement)
    return conn


def test_a_journal_of_schema_5_keeps_its_print_queue(tmp_path):
    """Schema 6 lets a label fail for good: the labels queued before it still wait."""
    path = tmp_path / JOURNAL_FILE
    with journal_of_schema(path, 5) as conn:
        conn.execute(
            "INSERT INTO attempts (station, socket, profile, started_at, result, mac)"
            " VALUES ('b', 's1', 'demo', '2026-12-02T08:00:00.000Z', 'ok', '5c:cf:7f:00:00:01')"
        )
        conn.execute(
            "INSERT INTO labels (attempt, queued_at, tries, error) VALUES (1, 'x', 3, 'off')"
        )
        conn.execute("PRAGMA user_version = 5")
    with Journal(path) as journal:
        ((row, tries, error),) = journal.pending_labels()
        assert (row.id, tries, error) == (1, 3, "off")
        journal.label_failed(1, "no QR code holds it")
        assert journal.pending_labels() == []
        assert [(r.id, t, e) for r, t, e in journal.failed_labels()] == [
            (1, 4, "no QR code holds it")
        ]
        assert journal.label_counts() == LabelCounts(
            waiting=0, failed=1, last_failure="no QR code holds it"
        )


def test_a_row_keeps_the_rates_the_attempt_went_at_and_its_adapter(journal):
    attempt = journal.start_attempt(
        socket="s1", profile="demo", images=IMAGES, baud=921600, adapter="1a86:7523:A5:USB"
    )
    result = ok_result(baud=460800, sync_baud=460800, stub_baud=460800)
    result.rate_fallback = RateStep.STUB_CHANGE
    row = journal.finish_attempt(attempt, result)
    assert (row.baud, row.sync_baud, row.stub_baud) == (460800, 460800, 460800)
    assert (row.adapter, row.rate_fallback) == ("1a86:7523:A5:USB", "stub-baud")
    assert row.as_dict()["rate_fallback"] == "stub-baud"


def test_recent_rates_are_a_sockets_first_attempts_on_one_adapter(journal):
    for socket, adapter, retry in [("s1", "A", 0), ("s2", "A", 0), ("s1", "B", 0)]:
        record(journal, ok_result(socket), adapter=adapter, retry=retry)
    record(journal, failed_result("s1"), adapter="A", retry=1)  # a retry: today's path
    journal.start_attempt(socket="s1", profile="demo", images=[], baud=1, adapter="A")
    newest = record(journal, failed_result("s1"), adapter="A")
    rows = journal.recent_rates("s1", "A", limit=5)
    assert [row.id for row in rows] == [1, newest.id]
    assert [row.id for row in journal.recent_rates("s1", "A", limit=1)] == [newest.id]
    assert journal.recent_rates("s1", None, limit=5) == []


def test_a_journal_of_schema_7_takes_the_rate_columns(tmp_path):
    """Schema 8 keeps the rates and the adapter: older rows read as not known."""
    path = tmp_path / JOURNAL_FILE
    with journal_of_schema(path, 7) as conn:
        conn.execute(
            "INSERT INTO attempts (station, socket, profile, started_at, result, baud, retry)"
            " VALUES ('jig-1', 's1', 'demo', '2026-12-02T08:00:00.000Z', 'ok', 921600, 0)"
        )
        conn.execute("PRAGMA user_version = 7")
    with Journal(path, station="jig-1") as journal:
        [row] = journal.attempts()
        assert (row.baud, row.sync_baud, row.stub_baud) == (921600, 0, 0)
        assert (row.adapter, row.rate_fallback) == (None, "")
        assert journal.recent_rates("s1", None, limit=20) == [row]
        indexes = {r[1] for r in journal._conn.execute("PRAGMA index_list(attempts)")}
        assert "attempts_socket" in indexes


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
        with pytest.raises(JournalUnwritable, match="journal is open readonly"):
            reader.start_attempt(socket="s1", profile="demo", images=[], baud=115200)
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader._conn.execute("DELETE FROM attempts")
    assert len(journal.attempts()) == 2


def test_readonly_does_not_recover_or_create(tmp_path, journal):
    journal.start_attempt(socket="s1", profile="demo", images=[], baud=115200)
    with Journal(journal.path, readonly=True) as reader:
        assert reader.attempts()[0].result == "started"
    with pytest.raises(JournalMissing, match="no journal at"):
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

    assert journal.counts() == Counts(ok=2, failed=3, total=6)
    since = datetime.now(UTC) - timedelta(hours=1)
    assert journal.counts(since=since) == Counts(ok=1, failed=2, total=4)
    assert journal.counts(since=datetime(2030, 1, 1, tzinfo=UTC)) == Counts(0, 0, 0)
    recent = journal.attempts(since=since)
    assert [row.result for row in recent] == ["ok", "failed", "cancelled", "started"]
    assert [row.result for row in journal.attempts(limit=2)] == ["cancelled", "started"]


def test_readonly_reader_without_write_access_to_the_directory(tmp_path):
    """A reader that may not write the journal's directory (no -wal or -shm file of its
    own) still reads it. Root ignores directory permissions, so as root (CI) the reader
    is a forked child become nobody, in a directory nobody may read but not write."""
    base = Path(tempfile.mkdtemp(prefix="journal-", dir="/tmp"))  # not under pytest's 0700
    state = base / "state"
    try:
        with Journal(state / JOURNAL_FILE) as journal:
            record(journal, ok_result())
        base.chmod(0o755)
        state.chmod(0o555)

        def read() -> int:
            with Journal(state / JOURNAL_FILE, readonly=True) as reader:
                results = [row.result for row in reader.attempts()]
            print(os.access(state, os.W_OK), *results, file=sys.stderr)
            return 0

        child = in_a_child_as_nobody(read)
        assert child.code == 0, child.stderr
        assert child.stderr.split() == ["False", "ok"]  # it could not write there, and it read
    finally:
        state.chmod(0o755)
        shutil.rmtree(base)


def test_a_file_that_is_no_journal_cannot_be_read_or_written(tmp_path):
    """SQLite's words, in the journal's errors: the layers above never see sqlite3's."""
    path = tmp_path / JOURNAL_FILE
    path.write_bytes(b"not a database, whatever it was" * 100)
    with pytest.raises(JournalUnreadable, match="^file is not a database$") as read:
        Journal(path, readonly=True)
    assert isinstance(read.value.__cause__, sqlite3.DatabaseError)
    with pytest.raises(JournalUnwritable, match="^file is not a database$"):
        Journal(path)


def test_a_reader_denied_the_directory_is_not_allowed(tmp_path):
    """As root (CI) in a forked child become nobody, in a directory only root may enter."""
    base = Path(tempfile.mkdtemp(prefix="journal-", dir="/tmp"))  # not under pytest's 0700
    try:
        Journal(base / "state" / JOURNAL_FILE).close()  # its directory made 0750, root's

        def read() -> int:
            try:
                Journal(base / "state" / JOURNAL_FILE, readonly=True)
            except JournalNotAllowed as e:
                print(e, file=sys.stderr)
                return 3
            return 0

        child = in_a_child_as_nobody(read)
        assert child.code == 3, child.stderr
        assert "Permission denied" in child.stderr
    finally:
        shutil.rmtree(base)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small disk needs root")
def test_a_write_on_a_full_disk_is_unwritable_and_reading_goes_on(small_disk):
    disk, fill = small_disk
    with Journal(disk / JOURNAL_FILE, station="jig-1") as journal:
        attempt = journal.start_attempt(socket="s1", profile="demo", images=IMAGES, baud=460800)
        fill()
        with pytest.raises(JournalUnwritable, match="^database or disk is full$") as full:
            journal.finish_attempt(attempt, ok_result())
        assert isinstance(full.value.__cause__, sqlite3.OperationalError)
        assert journal.finished_row(attempt, ok_result()).result == "ok"
        assert [row.result for row in journal.attempts()] == ["started"]


# -- units: a serial per MAC ----------------------------------------------------------------


IDENTITY = Identity(mode="record", template="node-{serial:03d}", offset=0xFB000)


def allocate(journal, mac, **kwargs):
    kwargs.setdefault("serial_range", (1, 999))
    return journal.allocate_unit(
        mac, profile="p", client_id=lambda n: client_id(IDENTITY, n, mac), **kwargs
    )


def test_serials_are_per_mac_and_stable(tmp_path):
    with Journal(tmp_path / JOURNAL_FILE) as journal:
        a = allocate(journal, "5c:cf:7f:00:00:01")
        b = allocate(journal, "5c:cf:7f:00:00:02")
        again = allocate(journal, "5c:cf:7f:00:00:01")
    assert (a.serial, b.serial, again.serial) == (1, 2, 1)
    assert a.client_id == "node-001" and b.client_id == "node-002"


def test_serial_range_keeps_stations_apart_and_runs_out(tmp_path):
    with Journal(tmp_path / JOURNAL_FILE) as journal:
        assert allocate(journal, "aa", serial_range=(500, 501)).serial == 500
        assert allocate(journal, "bb", serial_range=(500, 501)).serial == 501
        with pytest.raises(UnitsExhausted, match="500-501 is used up"):
            allocate(journal, "cc", serial_range=(500, 501))


def test_per_unit_images_are_each_used_once(tmp_path):
    images = ["node_001.bin", "node_002.bin"]
    with Journal(tmp_path / JOURNAL_FILE) as journal:
        assert allocate(journal, "aa", images=images).image == "node_001.bin"
        assert allocate(journal, "bb", images=images).image == "node_002.bin"
        assert allocate(journal, "aa", images=images).image == "node_001.bin"
        with pytest.raises(UnitsExhausted, match="per-unit image"):
            allocate(journal, "cc", images=images)


KILLER = """
import os, signal, sys
from flashjig.station.journal import Journal
journal = Journal(sys.argv[1])
for n in range(int(sys.argv[2]), int(sys.argv[2]) + 40):
    journal.allocate_unit(f"mac-{n % 25}", profile="p", serial_range=(1, 10_000),
                          client_id=lambda s: f"node-{s}")
    if n % 7 == 6:
        os.kill(os.getpid(), signal.SIGKILL)
"""


def killed_after(start: int) -> list[str]:
    """The MACs a KILLER run from ``start`` allocates, the last one just before its kill."""
    macs = []
    for n in range(start, start + 40):
        macs.append(f"mac-{n % 25}")
        if n % 7 == 6:
            return macs
    return macs


def test_serials_unique_under_kill_9(tmp_path):
    path = tmp_path / JOURNAL_FILE
    Journal(path).close()
    allocated = set()
    for start in range(0, 200, 40):
        run = subprocess.run([sys.executable, "-c", KILLER, str(path), str(start)], timeout=60)
        assert run.returncode == -9
        allocated.update(killed_after(start))
    with Journal(path) as journal:
        units = journal.units()
    macs = [u.mac for u in units]
    serials = [u.serial for u in units]
    # Every unit handed out before a kill is there (17 MACs): none lost, and the checks
    # below have units to look at (of none, all of them would hold).
    assert set(macs) == allocated and len(allocated) == 17
    assert len(macs) == len(set(macs)) and len(serials) == len(set(serials))
    assert serials == list(range(1, len(serials) + 1))


def test_a_started_row_carries_its_module_and_unit_before_it_ends(tmp_path):
    """MAC and serial go on the row as soon as they are known: a kill before the end
    leaves an interrupted row that still says which module, which unit."""
    path = tmp_path / JOURNAL_FILE
    with Journal(path, station="jig-1") as journal:
        row = journal.start_attempt(socket="s1", profile="units", images=[], baud=921600)
        journal.record_module(row, mac="5c:cf:7f:00:00:07")
        unit = journal.allocate_unit(
            "5c:cf:7f:00:00:07",
            profile="units",
            serial_range=(10, 20),
            client_id=lambda serial: f"node-{serial}",
        )
        journal.record_module(row, mac=unit.mac, serial=unit.serial, client_id=unit.client_id)
    with Journal(path, station="jig-1") as after:  # the next start
        (interrupted,) = after.attempts()
    assert interrupted.result == "interrupted"
    assert (interrupted.mac, interrupted.serial, interrupted.client_id) == (
        "5c:cf:7f:00:00:07",
        10,
        "node-10",
    )
