"""The station's journal: one SQLite row per flash attempt, written before the module is
touched and finished when the attempt ends.

A row is committed as 'started' first, so a crash or power loss leaves a row that the next
start marks 'interrupted' rather than no trace of the attempt. WAL with synchronous=FULL
makes every commit durable; WAL also lets ``flashjig history`` read while the daemon
writes. Sockets finish from several threads: one connection, serialised by a lock.

What SQLite or the system refuses comes out as a ``JournalError`` (flashjig.errors) with
their words: nothing above the journal knows it is SQLite.
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from flashjig.errors import (
    JournalError,
    JournalMissing,
    JournalNewerSchema,
    JournalNotAllowed,
    JournalUnreadable,
    JournalUnwritable,
    UnitsExhausted,
)
from flashjig.flashing.result import FAILED_OUTCOMES, FlashResult, Outcome, Reason

JOURNAL_FILE = "journal.sqlite3"
BUSY_TIMEOUT_MS = 5000
INTERRUPTED_DETAIL = "the station stopped during the attempt"


@dataclass(frozen=True)
class Counts:
    """Attempts by how they ended: failed includes interrupted and cancelled; total also
    counts those still in progress."""

    ok: int = 0
    failed: int = 0
    total: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.ok + other.ok, self.failed + other.failed, self.total + other.total)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class LabelCounts:
    """The labels waiting for the printer, those given up, and why the last of those was."""

    waiting: int = 0
    failed: int = 0
    last_failure: str = ""


@dataclass(frozen=True)
class AttemptRow:
    """One attempt as the journal keeps it."""

    id: int
    station: str
    socket: str
    profile: str
    started_at: str  # UTC, ISO 8601 with milliseconds and Z
    finished_at: str | None
    result: Outcome
    reason: Reason | None
    detail: str
    retry: int
    mac: str | None
    chip: str | None
    flash_id: str | None
    flash_size: str | None
    images: list[dict[str, Any]]
    bytes: int
    baud: int
    duration_s: float | None
    published: bool  # the MQTT broker acknowledged the result
    serial: int | None  # the unit's serial, when the profile gives units an identity
    client_id: str | None
    boot_log: str  # the last lines the firmware printed, when the profile checks the boot
    chip_revision: str | None  # v<major>.<minor> of an ESP32-family chip
    sync_baud: int = 0  # the rate the ROM was synced at (0: never synced)
    stub_baud: int = 0  # the rate the flasher stub went up at
    adapter: str | None = None  # the socket's USB adapter (Hardware.adapter)
    rate_fallback: str = ""  # the faster step that did not hold (flashing.rates.RateStep)

    @classmethod
    def from_row(cls, row: sqlite3.Row | Mapping[str, Any]) -> AttemptRow:
        data = dict(row)
        return cls(
            **{
                **data,
                "result": Outcome(data["result"]),
                "reason": Reason(data["reason"]) if data["reason"] else None,
                "images": json.loads(data["images"] or "[]"),
                "published": bool(data["published"]),
            }
        )

    def as_dict(self) -> dict[str, Any]:
        """The row as ``history --json`` and the MQTT result event carry it: columns as
        stored (reason "" when there is none, published 0 or 1), images as a list."""
        data = asdict(self)
        data["reason"] = self.reason or ""
        data["published"] = int(self.published)
        return data


ROW_KEYS = tuple(f.name for f in fields(AttemptRow))


@dataclass(frozen=True)
class UnitRecord:
    """A unit's identity: its serial belongs to one MAC for ever."""

    serial: int
    mac: str
    station: str
    profile: str
    client_id: str | None
    image: str | None  # the per-unit image file it was given (folder mode)
    allocated_at: str


@dataclass(frozen=True)
class Tally:
    """How many finished attempts share a socket, result, reason and hour (UTC,
    'YYYY-MM-DDTHH', of their end), and when the first of them started and the last ended."""

    socket: str
    result: str
    reason: str
    hour: str
    count: int
    first_started: str
    last_finished: str | None


# Group -> [count, first started, last finished]: what Journal.tallies keeps and adds to.
_Groups = dict[tuple[str, str, str, str], list[Any]]


def _add_tallies(groups: _Groups, rows: list[Any]) -> _Groups:
    """``groups`` with the tally rows of more attempts added in (a new dict)."""
    out = {key: list(value) for key, value in groups.items()}
    for socket, result, reason, hour, count, first, last in rows:
        entry = out.get((socket, result, reason, hour))
        if entry is None:
            out[(socket, result, reason, hour)] = [count, first, last]
            continue
        entry[0] += count
        entry[1] = min(entry[1], first)
        entry[2] = max(filter(None, (entry[2], last)), default=None)
    return out


@dataclass(frozen=True)
class ModuleRow:
    """One module of a batch: its unit (where it was given one) and its last finished
    attempt (result None: a serial was handed out and no attempt with it finished)."""

    serial: int | None
    mac: str
    client_id: str | None
    profile: str
    result: Outcome | None
    reason: Reason | None
    socket: str | None
    finished_at: str | None

    def as_dict(self) -> dict[str, Any]:
        """As the report's JSON and CSV carry it: "" for no result or reason."""
        data = asdict(self)
        data["reason"] = self.reason or ""
        data["result"] = self.result or ""
        return data

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> ModuleRow:
        serial, mac, client_id, profile, result, reason, socket, finished_at = row
        return cls(
            serial,
            mac,
            client_id,
            profile,
            Outcome(result) if result else None,
            Reason(reason) if reason else None,
            socket,
            finished_at,
        )


# MIGRATIONS[n] takes the schema from user_version n to n + 1. Append, never edit: a
# station's journal may be at any earlier version. Result values are checked in Python,
# not by a CHECK constraint, so adding one never means rebuilding the table.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE attempts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            station TEXT NOT NULL,
            socket TEXT NOT NULL,
            profile TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            result TEXT NOT NULL DEFAULT 'started',
            reason TEXT NOT NULL DEFAULT '',
            detail TEXT NOT NULL DEFAULT '',
            retry INTEGER NOT NULL DEFAULT 0,
            mac TEXT,
            chip TEXT,
            flash_id TEXT,
            flash_size TEXT,
            images TEXT NOT NULL DEFAULT '[]',
            bytes INTEGER NOT NULL DEFAULT 0,
            baud INTEGER NOT NULL DEFAULT 0,
            duration_s REAL
        )""",
        "CREATE INDEX attempts_started_at ON attempts (started_at)",
        "CREATE INDEX attempts_open ON attempts (result) WHERE result = 'started'",
    ),
    (
        # MQTT outbox: a finished attempt is published once the broker acknowledged it.
        "ALTER TABLE attempts ADD COLUMN published INTEGER NOT NULL DEFAULT 0",
        "CREATE INDEX attempts_unpublished ON attempts (id) WHERE published = 0",
    ),
    (
        # Per-unit identity: a serial belongs to one MAC for ever (both unique), and a
        # per-unit image file is used for one unit only.
        """CREATE TABLE units (
            serial INTEGER PRIMARY KEY,
            mac TEXT NOT NULL UNIQUE,
            station TEXT NOT NULL,
            profile TEXT NOT NULL,
            client_id TEXT,
            image TEXT UNIQUE,
            allocated_at TEXT NOT NULL
        )""",
        "ALTER TABLE attempts ADD COLUMN serial INTEGER",
        "ALTER TABLE attempts ADD COLUMN client_id TEXT",
        "ALTER TABLE attempts ADD COLUMN boot_log TEXT NOT NULL DEFAULT ''",
    ),
    (
        # ESP32-family chips: the revision read from eFuse (the ESP8266 keeps none).
        "ALTER TABLE attempts ADD COLUMN chip_revision TEXT",
    ),
    (
        # Labels to print, queued with the ok outcome they are for (one transaction), so a
        # printer that is off, or a kill, loses none: printed_at stays NULL until it is.
        """CREATE TABLE labels (
            attempt INTEGER PRIMARY KEY REFERENCES attempts (id),
            queued_at TEXT NOT NULL,
            printed_at TEXT,
            tries INTEGER NOT NULL DEFAULT 0,
            error TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX labels_pending ON labels (attempt) WHERE printed_at IS NULL",
    ),
    (
        # A label that cannot be made (its client id does not fit a QR code, say) is the
        # same on every try: failed_at marks it given up, so it no longer holds the queue.
        "ALTER TABLE labels ADD COLUMN failed_at TEXT",
        "DROP INDEX labels_pending",
        "CREATE INDEX labels_pending ON labels (attempt)"
        " WHERE printed_at IS NULL AND failed_at IS NULL",
        "CREATE INDEX labels_failed ON labels (attempt) WHERE failed_at IS NOT NULL",
    ),
    (
        # The report's modules: each MAC's last finished attempt, found without a sort of
        # the whole table (a 500k-row journal took the report to 34 s).
        "CREATE INDEX attempts_module ON attempts (mac, id, result)",
    ),
    (
        # The rates an attempt went at (baud: the one it wrote at), on which adapter, and
        # which faster step fell back: each socket learns its safe rates from these rows.
        "ALTER TABLE attempts ADD COLUMN sync_baud INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE attempts ADD COLUMN stub_baud INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE attempts ADD COLUMN adapter TEXT",
        "ALTER TABLE attempts ADD COLUMN rate_fallback TEXT NOT NULL DEFAULT ''",
        "CREATE INDEX attempts_socket ON attempts (socket, id)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
TALLIES_KEPT = 4  # the reports' periods kept added up (the page asks "today" and "all")


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _failing_as(error: type[JournalError]) -> Callable[[Callable[_P, _R]], Callable[_P, _R]]:
    """A method whose SQLite or system errors come out as ``error``, with their words (a
    full disk's "database or disk is full" is what the station shows)."""

    def wrap(method: Callable[_P, _R]) -> Callable[_P, _R]:
        @functools.wraps(method)
        def failing_as_error(*args: _P.args, **kwargs: _P.kwargs) -> _R:
            try:
                return method(*args, **kwargs)
            except (sqlite3.Error, OSError) as e:
                raise error(str(e)) from e

        return failing_as_error

    return wrap


_reads = _failing_as(JournalUnreadable)
_writes = _failing_as(JournalUnwritable)


def utc_timestamp(moment: datetime | None = None) -> str:
    """ISO 8601 UTC with milliseconds and 'Z'; a naive moment is local time."""
    moment = (moment or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Journal:
    """The station's record of every flash attempt: SQLite in WAL mode, durable commits."""

    def __init__(
        self, path: str | os.PathLike[str], *, station: str = "flashjig", readonly: bool = False
    ) -> None:
        self.path = Path(path)
        self.station = station
        self.readonly = readonly
        self.recovered = 0
        self._lock = threading.Lock()
        # counts() of the whole journal: the rows up to _settled_upto, counted once.
        self._settled = Counts()
        self._settled_upto = 0
        # tallies() per since: the rows up to an id, added up once (least recently asked
        # first, TALLIES_KEPT of them).
        self._tallied: dict[str, tuple[int, _Groups]] = {}
        try:
            self._conn = _open_readonly(self.path) if readonly else self._open_writer()
        except PermissionError as e:
            raise JournalNotAllowed(str(e)) from e
        except (sqlite3.Error, OSError) as e:
            raise (JournalUnreadable if readonly else JournalUnwritable)(str(e)) from e
        self._conn.row_factory = sqlite3.Row

    def _open_writer(self) -> sqlite3.Connection:
        self.path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
        conn = _connect(str(self.path))
        try:
            self._prepare(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _prepare(self, conn: sqlite3.Connection) -> None:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise JournalUnwritable(f"{self.path}: cannot use WAL mode (got {mode!r})")
        conn.execute("PRAGMA synchronous=FULL")
        self._migrate(conn)
        # The state a literal: the partial index attempts_open serves only that.
        self.recovered = conn.execute(
            "UPDATE attempts SET result = ?, reason = ?, detail = ?, finished_at = ?"
            f" WHERE result = '{Outcome.STARTED}'",
            (Outcome.INTERRUPTED, Reason.INTERRUPTED, INTERRUPTED_DETAIL, utc_timestamp()),
        ).rowcount

    def _migrate(self, conn: sqlite3.Connection) -> None:
        # IMMEDIATE takes the write lock first, so two processes opening a new journal at
        # once cannot both apply the same migration.
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise JournalNewerSchema(
                    f"{self.path}: journal schema {version} is newer than this flashjig "
                    f"understands ({SCHEMA_VERSION}); upgrade flashjig"
                )
            for number in range(version, SCHEMA_VERSION):
                for statement in MIGRATIONS[number]:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    @_writes
    def start_attempt(
        self,
        *,
        socket: str,
        profile: str,
        images: list[dict[str, Any]],
        baud: int,
        retry: int = 0,
        adapter: str | None = None,
    ) -> int:
        """Record an attempt as 'started' (``baud``: the rate planned; the outcome puts the
        one written at), committed before this returns; its id."""
        self._check_writable()
        with self._lock:
            cursor = self._conn.execute(
                "INSERT INTO attempts"
                " (station, socket, profile, started_at, retry, images, baud, adapter)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    self.station,
                    socket,
                    profile,
                    utc_timestamp(),
                    retry,
                    json.dumps(images, default=str),
                    baud,
                    adapter,
                ),
            )
            attempt_id = cursor.lastrowid
        if attempt_id is None:  # sqlite3 gives one for every INSERT
            raise JournalUnwritable(f"{self.path}: no row id for the new attempt")
        return attempt_id

    @_writes
    def record_module(
        self,
        attempt_id: int,
        *,
        mac: str,
        serial: int | None = None,
        client_id: str | None = None,
    ) -> None:
        """Which module a started attempt is writing, committed as soon as it is known."""
        self._check_writable()
        with self._lock:
            self._conn.execute(
                "UPDATE attempts SET mac = ?, serial = COALESCE(?, serial),"
                " client_id = COALESCE(?, client_id) WHERE id = ? AND result = ?",
                (mac, serial, client_id, attempt_id, Outcome.STARTED),
            )

    @_writes
    def finish_attempt(
        self,
        attempt_id: int,
        result: FlashResult,
        *,
        published: bool = False,
        label: bool = False,
    ) -> AttemptRow:
        """Copy an attempt's outcome into its row, commit, and return the row. ``published``
        when the broker already acknowledged it (an outcome held while the disk was full);
        ``label``: an ok outcome's label is queued for the printer in the same transaction."""
        self._check_writable()
        columns = _outcome_columns(result)
        if published:
            columns["published"] = 1
        assignments = ", ".join(f"{name} = ?" for name in columns)
        queue = label and result.ok
        with self._lock:
            conn = self._conn
            if queue:  # else the UPDATE is its own transaction, as it always was
                conn.execute("BEGIN IMMEDIATE")
            try:
                updated = conn.execute(
                    f"UPDATE attempts SET {assignments} WHERE id = ?",
                    (*columns.values(), attempt_id),
                ).rowcount
                if not updated:
                    raise KeyError(f"no attempt {attempt_id} in {self.path}")
                if queue:
                    conn.execute(
                        "INSERT OR IGNORE INTO labels (attempt, queued_at) VALUES (?, ?)",
                        (attempt_id, utc_timestamp()),
                    )
                    conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # a full disk may have rolled it back already
                    conn.execute("ROLLBACK")
                raise
            row = conn.execute("SELECT * FROM attempts WHERE id = ?", (attempt_id,))
            return AttemptRow.from_row(row.fetchone())

    @_reads
    def pending_labels(self) -> list[tuple[AttemptRow, int, str]]:
        """The labels waiting for the printer, oldest first: the attempt, tries so far, last
        error."""
        return self._labels("labels.printed_at IS NULL AND labels.failed_at IS NULL")

    @_reads
    def failed_labels(self) -> list[tuple[AttemptRow, int, str]]:
        """The labels given up because they cannot be made, oldest first: the attempt,
        tries, why."""
        return self._labels("labels.failed_at IS NOT NULL")

    def _labels(self, where: str) -> list[tuple[AttemptRow, int, str]]:
        with self._lock:
            if not self._has_schema():
                return []
            found = self._conn.execute(
                "SELECT attempts.*, labels.tries AS label_tries, labels.error AS label_error"
                f" FROM labels JOIN attempts ON attempts.id = labels.attempt WHERE {where}"
                " ORDER BY labels.attempt"
            ).fetchall()
        out = []
        for row in found:
            data = dict(row)
            tries, error = data.pop("label_tries"), data.pop("label_error")
            out.append((AttemptRow.from_row(data), tries, error))
        return out

    @_reads
    def label_counts(self) -> LabelCounts:
        """What the status shows of the labels."""
        with self._lock:
            if not self._has_schema():
                return LabelCounts()
            # Each count over its partial index: the status asks often, the table only grows.
            waiting, failed = self._conn.execute(
                "SELECT (SELECT COUNT(*) FROM labels"
                " WHERE printed_at IS NULL AND failed_at IS NULL),"
                " (SELECT COUNT(*) FROM labels WHERE failed_at IS NOT NULL)"
            ).fetchone()
            last = self._conn.execute(
                "SELECT error FROM labels WHERE failed_at IS NOT NULL"
                " ORDER BY failed_at DESC, attempt DESC LIMIT 1"
            ).fetchone()
        return LabelCounts(waiting, failed, last[0] if last else "")

    @_writes
    def label_printed(self, attempt_id: int) -> None:
        self._check_writable()
        with self._lock:
            self._conn.execute(
                "UPDATE labels SET printed_at = ?, tries = tries + 1, error = '' WHERE attempt = ?",
                (utc_timestamp(), attempt_id),
            )

    @_writes
    def label_not_printed(self, attempt_id: int, error: str) -> None:
        """A try that did not reach the printer: the label stays queued for the next."""
        self._check_writable()
        with self._lock:
            self._conn.execute(
                "UPDATE labels SET tries = tries + 1, error = ? WHERE attempt = ?",
                (error, attempt_id),
            )

    @_writes
    def label_failed(self, attempt_id: int, error: str) -> None:
        """The label cannot be made: given up, with why, and never tried again."""
        self._check_writable()
        with self._lock:
            self._conn.execute(
                "UPDATE labels SET failed_at = ?, tries = tries + 1, error = ? WHERE attempt = ?",
                (utc_timestamp(), error, attempt_id),
            )

    @_reads
    def finished_row(self, attempt_id: int, result: FlashResult) -> AttemptRow:
        """The row ``finish_attempt`` would make, without writing it: what an outcome held
        in memory (the journal cannot be written) is published as. Reading still works on
        a full disk."""
        with self._lock:
            found = self._conn.execute("SELECT * FROM attempts WHERE id = ?", (attempt_id,))
            started = found.fetchone()
        if started is None:
            raise KeyError(f"no attempt {attempt_id} in {self.path}")
        return AttemptRow.from_row({**dict(started), **_outcome_columns(result)})

    @_reads
    def attempts(
        self, *, since: datetime | None = None, limit: int | None = None
    ) -> list[AttemptRow]:
        """Attempts started at or after ``since``, oldest first; with ``limit``, the newest
        ``limit`` of them. A naive ``since`` is local time."""
        where, params = _since_clause(since)
        # Ordered by id, not time: a Pi without a clock may start with the wrong time.
        sql = f"SELECT * FROM attempts {where} ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        with self._lock:
            if not self._has_schema():
                return []
            rows = self._conn.execute(sql, params).fetchall()
        return [AttemptRow.from_row(row) for row in reversed(rows)]

    @_reads
    def recent_rates(self, socket: str, adapter: str | None, limit: int) -> list[AttemptRow]:
        """A socket's last ``limit`` first attempts on ``adapter`` that ended ok or failed,
        oldest first: what it learns its safe rates from (over the index on socket, id)."""
        with self._lock:
            if not self._has_schema():
                return []
            rows = self._conn.execute(
                "SELECT * FROM attempts WHERE socket = ? AND station = ? AND adapter IS ?"
                " AND retry = 0 AND result IN (?, ?) ORDER BY id DESC LIMIT ?",
                (socket, self.station, adapter, Outcome.OK, Outcome.FAILED, limit),
            ).fetchall()
        return [AttemptRow.from_row(row) for row in reversed(rows)]

    @_reads
    def counts(self, *, since: datetime | None = None) -> Counts:
        """The attempts started since ``since`` (all without), by how they ended. ``since``
        is a range of the started_at index;
        the whole journal's are counted once and then only what was added (a full scan
        per status took 158 ms at 500k rows, under the journal's lock)."""
        with self._lock:
            if not self._has_schema():
                return Counts()
            if since is not None:
                where, params = _since_clause(since)
                return self._count(where, params)
            settled = self._settled_id()
            if settled > self._settled_upto:
                more = self._count("WHERE id > ? AND id <= ?", [self._settled_upto, settled])
                self._settled += more
                self._settled_upto = settled
            tail = self._count("WHERE id > ?", [self._settled_upto])
        return self._settled + tail

    @_reads
    def data_version(self) -> int:
        """Changes whenever another connection (the station's, for a reader) has committed
        since it was last asked: what a cached report is keyed on."""
        with self._lock:
            return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def _settled_id(self) -> int:
        """The rows up to this id never change again: all before the oldest attempt still in
        progress (a finished row is final; only started ones are written to again)."""
        oldest_open, last = self._conn.execute(
            f"SELECT (SELECT MIN(id) FROM attempts WHERE result = '{Outcome.STARTED}'),"
            " (SELECT MAX(id) FROM attempts)"
        ).fetchone()
        return int((oldest_open - 1) if oldest_open is not None else (last or 0))

    def _count(self, where: str, params: list[object]) -> Counts:
        marks = ", ".join("?" for _ in FAILED_OUTCOMES)
        total, ok, failed = self._conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(result = ?), 0),"
            f" COALESCE(SUM(result IN ({marks})), 0) FROM attempts {where}",
            [Outcome.OK, *FAILED_OUTCOMES, *params],
        ).fetchone()
        return Counts(ok=ok, failed=failed, total=total)

    # -- the report, in SQL: the same cost on day 1 and day 700 ---------------------------

    @_reads
    def tallies(self, *, since: datetime | None = None) -> list[Tally]:
        """The attempts finished, started at or after ``since``, counted by socket, result,
        reason and the hour (UTC) they ended in. Rows that can no longer change are added
        up once per ``since`` and kept; each call adds only the rows after them, so a
        report costs on day 700 what it did on day 1."""
        key = "" if since is None else utc_timestamp(since)
        with self._lock:
            if not self._has_schema():
                return []
            settled = self._settled_id()
            upto, kept = self._tallied.pop(key, (0, {}))
            if settled > upto:
                kept = _add_tallies(kept, self._tally_rows(since, upto, settled))
                upto = settled
            self._tallied[key] = (upto, kept)
            while len(self._tallied) > TALLIES_KEPT:  # the least recently asked goes
                del self._tallied[next(iter(self._tallied))]
            groups = _add_tallies(dict(kept), self._tally_rows(since, upto, None))
        return [Tally(*key, *value) for key, value in groups.items()]

    def _tally_rows(self, since: datetime | None, after: int, upto: int | None) -> list[Any]:
        where, params = _since_clause(since, f"result != '{Outcome.STARTED}' AND id > ?")
        params.append(after)
        if upto is not None:
            where += " AND id <= ?"
            params.append(upto)
        return self._conn.execute(
            "SELECT socket, result, reason, substr(COALESCE(finished_at, started_at), 1, 13),"
            " COUNT(*), MIN(started_at), MAX(finished_at)"
            f" FROM attempts {where} GROUP BY 1, 2, 3, 4",
            params,
        ).fetchall()

    @_reads
    def modules(
        self, *, since: datetime | None = None, limit: int | None = None
    ) -> tuple[int, int, list[ModuleRow]]:
        """The modules of the batch: every unit handed a serial at or after ``since`` and
        every other module (by MAC) an attempt started since then finished on, each with its
        last finished attempt. How many, how many of them ended ok, and (the most recent
        ``limit`` of them, all without) each one, newest first. Each module's last attempt
        is found on the (mac, id, result) index, never by sorting the table."""
        at = [] if since is None else [utc_timestamp(since)]
        since_a = "" if since is None else " AND a.started_at >= ?"
        finished_a = f"a.result != '{Outcome.STARTED}' AND a.mac IS NOT NULL{since_a}"
        # No attempt on the same module finished after this one (since ``since``).
        last_a = (
            "NOT EXISTS (SELECT 1 FROM attempts b WHERE b.mac = a.mac AND b.id > a.id"
            f" AND b.result != '{Outcome.STARTED}'{since_a.replace('a.', 'b.')})"
        )
        # A unit handed a serial (since ``since``) with no attempt finished since.
        waiting_u = (
            "" if since is None else "u.allocated_at >= ? AND "
        ) + f"NOT EXISTS (SELECT 1 FROM attempts a WHERE a.mac = u.mac AND {finished_a})"
        cut = "" if limit is None else " LIMIT ?"
        cut_params = [] if limit is None else [limit]
        with self._lock:
            if not self._has_schema():
                return 0, 0, []
            finished_count, good = self._conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(result = ?), 0) FROM (SELECT MAX(a.id),"
                f" a.result FROM attempts a WHERE {finished_a} GROUP BY a.mac)",
                [Outcome.OK, *at],
            ).fetchone()
            (waiting_count,) = self._conn.execute(
                f"SELECT COUNT(*) FROM units u WHERE {waiting_u}", [*at, *at]
            ).fetchone()
            last = self._conn.execute(
                "SELECT COALESCE(u.serial, a.serial), a.mac, COALESCE(u.client_id, a.client_id),"
                " COALESCE(u.profile, a.profile), a.result, a.reason, a.socket, a.finished_at,"
                " COALESCE(a.finished_at, a.started_at) FROM attempts a"
                f" LEFT JOIN units u ON u.mac = a.mac WHERE {finished_a} AND {last_a}"
                f" ORDER BY a.id DESC{cut}",
                [*at, *at, *cut_params],
            ).fetchall()
            waiting = self._conn.execute(
                "SELECT serial, mac, client_id, profile, NULL, NULL, NULL, NULL, allocated_at"
                f" FROM units u WHERE {waiting_u} ORDER BY allocated_at DESC{cut}",
                [*at, *at, *cut_params],
            ).fetchall()
        lines = sorted([*last, *waiting], key=lambda row: row[8], reverse=True)
        if limit is not None:
            lines = lines[:limit]
        rows = [ModuleRow.from_row(tuple(row)[:8]) for row in lines]
        return finished_count + waiting_count, good, rows

    @_writes
    def allocate_unit(
        self,
        mac: str,
        *,
        profile: str,
        serial_range: tuple[int, int],
        client_id: Callable[[int], str],
        images: list[str] | None = None,
    ) -> UnitRecord:
        """The unit record for ``mac``: the one it already has (a module flashed again
        keeps its serial), or a new one with the next free serial in ``serial_range``
        (and, with ``images``, the first per-unit image no unit has taken). Committed
        before it returns, in one transaction, so a kill at any point never gives one
        serial or one image to two MACs."""
        self._check_writable()
        first, last = serial_range
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute("SELECT * FROM units WHERE mac = ?", (mac,)).fetchone()
                if row is None:
                    serial = conn.execute(
                        "SELECT COALESCE(MAX(serial) + 1, ?) FROM units"
                        " WHERE serial BETWEEN ? AND ?",
                        (first, first, last),
                    ).fetchone()[0]
                    if serial > last:
                        raise UnitsExhausted(f"serial range {first}-{last} is used up")
                    image = None
                    if images is not None:
                        taken = {r[0] for r in conn.execute("SELECT image FROM units")}
                        free = [name for name in images if name not in taken]
                        if not free:
                            raise UnitsExhausted("every per-unit image has been used")
                        image = free[0]
                    conn.execute(
                        "INSERT INTO units (serial, mac, station, profile, client_id, image,"
                        " allocated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (
                            serial,
                            mac,
                            self.station,
                            profile,
                            client_id(serial),
                            image,
                            utc_timestamp(),
                        ),
                    )
                    row = conn.execute("SELECT * FROM units WHERE mac = ?", (mac,)).fetchone()
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return UnitRecord(**dict(row))

    @_reads
    def units(self, *, since: datetime | None = None) -> list[UnitRecord]:
        """The units handed a serial (at or after ``since``), by serial."""
        where, params = (
            ("", []) if since is None else ("WHERE allocated_at >= ?", [utc_timestamp(since)])
        )
        with self._lock:
            if not self._has_schema():
                return []
            rows = self._conn.execute(
                f"SELECT * FROM units {where} ORDER BY serial", params
            ).fetchall()
        return [UnitRecord(**dict(r)) for r in rows]

    @_reads
    def unpublished(self, *, limit: int = 50) -> list[AttemptRow]:
        """Finished attempts the broker has not acknowledged yet, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM attempts WHERE published = 0 AND result != ? ORDER BY id LIMIT ?",
                (Outcome.STARTED, limit),
            ).fetchall()
        return [AttemptRow.from_row(row) for row in rows]

    @_reads
    def unpublished_count(self) -> int:
        """How many finished attempts wait for the broker (the dashboard's backlog)."""
        with self._lock:
            row = self._conn.execute(
                "SELECT COUNT(*) FROM attempts WHERE published = 0 AND result != ?",
                (Outcome.STARTED,),
            ).fetchone()
        return int(row[0])

    @_writes
    def mark_published(self, attempt_id: int) -> None:
        self._check_writable()
        with self._lock:
            self._conn.execute("UPDATE attempts SET published = 1 WHERE id = ?", (attempt_id,))

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_writable(self) -> None:
        if self.readonly:
            raise JournalUnwritable(f"{self.path}: journal is open readonly")

    def _has_schema(self) -> bool:
        # A readonly reader may meet a journal whose writer has not created the table yet.
        return self._conn.execute("PRAGMA user_version").fetchone()[0] > 0


def _connect(target: str, *, uri: bool = False) -> sqlite3.Connection:
    # Autocommit: each statement is its own durable transaction unless BEGIN says otherwise.
    conn = sqlite3.connect(target, uri=uri, check_same_thread=False, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


def _open_readonly(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise JournalMissing(f"no journal at {path}")
    uri = path.resolve().as_uri()
    conn = _connect(f"{uri}?mode=ro", uri=True)
    try:
        conn.execute("PRAGMA user_version").fetchone()
        return conn
    except sqlite3.OperationalError:
        conn.close()
        # A WAL reader needs the -wal and -shm files, or leave to create them. With the
        # daemon stopped they are gone, and a member of the state directory's group may not
        # create files there; with no -wal file nobody is writing, so read it as immutable.
        if Path(f"{path}-wal").exists():
            raise
    conn = _connect(f"{uri}?mode=ro&immutable=1", uri=True)
    conn.execute("PRAGMA user_version").fetchone()
    return conn


def _final_result(result: FlashResult) -> Outcome:
    if result.outcome is Outcome.OK:
        return Outcome.OK
    # The pipeline reports a cancel as a failure with reason 'cancelled'.
    if result.reason is Reason.CANCELLED:
        return Outcome.CANCELLED
    if result.outcome in FAILED_OUTCOMES:
        return result.outcome
    raise ValueError(f"not a finished attempt's result: {result.outcome!r}")


def _outcome_columns(result: FlashResult) -> dict[str, object]:
    """The columns a finished attempt's outcome sets, as stored."""
    columns: dict[str, object] = {
        "result": _final_result(result),
        "reason": result.reason or "",
        "detail": result.detail,
        "mac": result.mac,
        "chip": result.chip,
        "flash_id": result.flash_id,
        "flash_size": result.flash_size,
        "bytes": result.bytes,
        "duration_s": result.duration_s,
        "finished_at": utc_timestamp(),
    }
    if result.baud:
        columns["baud"] = result.baud
    if result.sync_baud:
        columns["sync_baud"] = result.sync_baud
        columns["stub_baud"] = result.stub_baud
    columns["rate_fallback"] = str(result.rate_fallback)
    for extra in ("serial", "client_id", "boot_log", "chip_revision"):
        if getattr(result, extra, None) is not None:
            columns[extra] = getattr(result, extra)
    # A failure before writing has no images of its own: keep the planned ones.
    if result.images:
        columns["images"] = json.dumps(result.images, default=str)
    return columns


def _since_clause(since: datetime | None, also: str = "") -> tuple[str, list[object]]:
    """A WHERE clause for attempts started at or after ``since`` (and ``also``)."""
    terms = [] if since is None else ["started_at >= ?"]
    terms += [also] if also else []
    where = f"WHERE {' AND '.join(terms)}" if terms else ""
    return where, ([] if since is None else [utc_timestamp(since)])
