"""The fleet viewer's store, fleet.sqlite3 in the state directory: the results gathered,
each kept once (by station, journal id and start time), and the stations' states as the
last look found them.

The viewer's only SQLite: what SQLite or the system refuses comes out as a
``FleetStoreError`` naming the file, so the viewer and the command line never see sqlite3.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from flashjig.errors import FleetError

FLEET_FILE = "fleet.sqlite3"
# The store's layout, in PRAGMA user_version. 0: results keyed by station and id only,
# states as they came, unchecked (flashjig before issue 24).
STORE_VERSION = 1
TABLES = (
    """CREATE TABLE results (
        station TEXT NOT NULL, id INTEGER NOT NULL, started_at TEXT NOT NULL,
        event TEXT NOT NULL, received_at REAL NOT NULL,
        PRIMARY KEY (station, id, started_at)
    )""",
    "CREATE TABLE states (topic TEXT PRIMARY KEY, payload TEXT NOT NULL)",
)

# What the viewer makes of a result an earlier viewer kept (its station, its event as
# kept): the event to keep, or None to drop it.
Recheck = Callable[[str, str], dict[str, Any] | None]


class FleetStoreError(FleetError):
    """The viewer's store cannot be opened, read or written; the message names the file."""


class FleetStore:
    """Results and retained states, one connection shared by paho's thread (results as
    they come) and the viewer's (states, reading), serialised by a lock."""

    def __init__(self, path: Path, *, recheck: Recheck) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Autocommit: each result is written as it comes, before it is acknowledged;
            # the transactions that must be whole are opened explicitly.
            self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._upgrade(recheck)
        except (OSError, sqlite3.Error) as e:
            raise FleetStoreError(f"cannot use {path}: {e}") from None

    def close(self) -> None:
        self._conn.close()

    def keep_result(self, station: str, event: dict[str, Any], received_at: float) -> None:
        """A result the broker sent, once: the same station, id and start time again is
        not kept a second time."""
        try:
            with self._lock:
                self._insert(station, event, received_at)
        except sqlite3.Error as e:
            raise FleetStoreError(f"cannot keep what the broker sent in {self.path}: {e}") from None

    def replace_states(self, states: dict[str, str]) -> None:
        """This look's states (topic -> payload) in place of the last look's, at once."""
        try:
            with self._lock, self._transaction() as db:
                db.execute("DELETE FROM states")
                db.executemany("INSERT INTO states VALUES (?, ?)", sorted(states.items()))
        except sqlite3.Error as e:
            raise FleetStoreError(f"cannot keep the stations' states in {self.path}: {e}") from None

    def states(self) -> list[tuple[str, str]]:
        """Every state kept, (topic, payload), by topic."""
        return self._read("SELECT topic, payload FROM states ORDER BY topic")

    def results(self, since: float | None = None) -> list[dict[str, Any]]:
        """Every result kept (received at or after ``since``, epoch seconds), oldest first."""
        rows = self._read(
            "SELECT event FROM results WHERE received_at >= ?"
            " ORDER BY received_at, station, started_at, id",
            (since or 0.0,),
        )
        return [json.loads(event) for (event,) in rows]

    def _read(self, sql: str, params: tuple[object, ...] = ()) -> list[Any]:
        try:
            with self._lock:
                return self._conn.execute(sql, params).fetchall()
        except sqlite3.Error as e:
            raise FleetStoreError(f"cannot read {self.path}: {e}") from None

    def _insert(self, station: str, event: dict[str, Any], received_at: float) -> None:
        self._conn.execute(
            "INSERT OR IGNORE INTO results VALUES (?, ?, ?, ?, ?)",
            (station, event["id"], event["started_at"], json.dumps(event), received_at),
        )

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def _upgrade(self, recheck: Recheck) -> None:
        """Bring a store of an earlier viewer to this layout. Its results go through
        ``recheck`` (it took anything whose id was a number); its states are dropped, as
        the next look gathers them afresh."""
        (version,) = self._conn.execute("PRAGMA user_version").fetchone()
        if version == STORE_VERSION:
            return
        if version > STORE_VERSION:
            raise FleetStoreError(f"{self.path} is kept by a newer flashjig (layout {version})")
        with self._transaction() as db:
            earlier = []
            if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'results'").fetchone():
                earlier = db.execute("SELECT station, event, received_at FROM results").fetchall()
            db.execute("DROP TABLE IF EXISTS results")
            db.execute("DROP TABLE IF EXISTS states")
            for statement in TABLES:
                db.execute(statement)
            for station, event, received_at in earlier:
                checked = recheck(station, event)
                if checked is not None:
                    self._insert(station, checked, received_at)
            db.execute(f"PRAGMA user_version = {STORE_VERSION}")
