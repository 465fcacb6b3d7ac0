"""Several stations on one broker, seen as one: a viewer that gathers every station's
retained states and its result events into a SQLite file of its own.

The viewer keeps a persistent MQTT session (a fixed client id, clean_session off, results
subscribed at QoS 1): while it is away the broker queues the results for it, so the next
look misses none, as long as it has connected once before (a broker queues only for a
session it knows). States are subscribed at QoS 0: what counts is what the broker retains
when the viewer looks, so the states kept are exactly those of the last look, and a
station whose topics were cleared in between is gone.

Any account that may write a station's topics can send anything there. Every message is
checked against its schema (flashjig.mqtt.incoming); one that does not match is refused,
said once in a line naming the station, and acknowledged all the same, so it neither
stops the look nor comes back. A message is acknowledged only once it is kept or refused:
one the store could not take comes again on the next look.

A result is kept once, by station, journal id and start time: the id alone repeats when a
station's journal is made anew (a new SD card counts from 1 again). Stations announce
their serial ranges on their state topic; two stations whose ranges overlap would hand out
the same serial, and the view says so.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from flashjig.config import MqttConfig
from flashjig.errors import FlashjigError, PasswordError
from flashjig.mqtt.client import client_for
from flashjig.mqtt.incoming import (
    Refused,
    check_availability,
    check_result,
    check_socket_state,
    check_station_state,
    one_line,
)

FLEET_FILE = "fleet.sqlite3"
# A look ends once nothing the broker held for the viewer (retained states, queued
# results) has come for QUIET_S, and GATHER_LIMIT_S after subscribing at the latest: a
# station that publishes without pause cannot keep the view waiting. What is left is
# left at the broker for the next look.
QUIET_S = 1.0
GATHER_LIMIT_S = 10.0
CONNECT_TIMEOUT_S = 10.0
SUBSCRIPTIONS = [
    ("flashjig/+/result", 1),
    ("flashjig/+/state", 0),
    ("flashjig/+/availability", 0),
    ("flashjig/+/socket/+/state", 0),
]

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


class FleetError(FlashjigError):
    """The broker could not be reached or refused the viewer, or its store cannot be used."""


@dataclass(frozen=True)
class StationView:
    """One station as its retained topics show it."""

    id: str
    online: bool
    state: dict[str, Any]
    sockets: dict[str, dict[str, Any]]


class Fleet:
    """The viewer's store: results and retained states, gathered from the broker, and what
    was refused on the way (``notes``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._notes: dict[str, int] = {}  # a line -> how often it came
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Autocommit: each result is written as it comes, before it is acknowledged;
            # the transactions that must be whole are opened explicitly.
            self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
            self._upgrade()
        except (OSError, sqlite3.Error) as e:
            raise FleetError(f"cannot use {path}: {e}") from None

    def close(self) -> None:
        self._conn.close()

    @property
    def notes(self) -> list[str]:
        """What the viewer refused or could not finish, one line each, said once."""
        with self._lock:
            return [text if n == 1 else f"{text} ({n} times)" for text, n in self._notes.items()]

    def _note(self, text: str) -> None:
        with self._lock:
            self._notes[text] = self._notes.get(text, 0) + 1

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def _upgrade(self) -> None:
        """Bring a store of an earlier viewer to this layout. Its results are checked as
        new ones are (it took anything whose id was a number); its states are dropped,
        as the next look gathers them afresh."""
        (version,) = self._conn.execute("PRAGMA user_version").fetchone()
        if version == STORE_VERSION:
            return
        if version > STORE_VERSION:
            raise FleetError(f"{self.path} is kept by a newer flashjig (layout {version})")
        with self._transaction() as db:
            earlier = []
            if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'results'").fetchone():
                earlier = db.execute("SELECT station, event, received_at FROM results").fetchall()
            db.execute("DROP TABLE IF EXISTS results")
            db.execute("DROP TABLE IF EXISTS states")
            for statement in TABLES:
                db.execute(statement)
            for station, event, received_at in earlier:
                try:
                    self._insert_result(station, check_result(event.encode()), received_at)
                except Refused as e:
                    self._note(
                        f"station {one_line(station)}: a result an earlier flashjig kept "
                        f"is dropped: {e}"
                    )
            db.execute(f"PRAGMA user_version = {STORE_VERSION}")

    # -- gathering -----------------------------------------------------------------------

    def gather(self, settings: MqttConfig) -> None:
        """Connect, take what the broker holds for us (retained states, queued results)
        and keep it: the results added to those kept, the states in place of the last
        look's."""
        look = _Look(self)
        try:  # persistent: the broker queues results for us while we are away
            client = client_for(settings, f"flashjig-fleet-{socket.gethostname()}", persistent=True)
        except OSError as e:  # its certificates
            raise FleetError(
                f"cannot read {e.filename or 'a file the mqtt section names'}: {e.strerror or e}"
            ) from None
        except PasswordError as e:  # read here: a viewer loads its config unchecked
            raise FleetError(f"mqtt.password_file: {e}") from None
        client.manual_ack_set(True)
        client.on_connect = look.on_connect
        client.on_subscribe = look.on_subscribe
        client.on_message = look.on_message
        where = f"{settings.host}:{settings.port}"
        try:
            client.connect(settings.host, settings.port, keepalive=settings.keepalive)
        except OSError as e:
            raise FleetError(f"cannot reach the MQTT broker {where}: {e}") from None
        client.loop_start()
        try:
            if not look.subscribed.wait(CONNECT_TIMEOUT_S) or look.refusal:
                raise FleetError(f"the MQTT broker {where}: {look.refusal or 'no answer'}")
            cut_short = look.settle()
        finally:
            client.disconnect()
            client.loop_stop()
        if look.failure:
            raise FleetError(look.failure)
        try:
            with self._transaction() as db:
                db.execute("DELETE FROM states")
                db.executemany("INSERT INTO states VALUES (?, ?)", sorted(look.states.items()))
        except sqlite3.Error as e:
            raise FleetError(f"cannot keep the stations' states in {self.path}: {e}") from None
        if cut_short:
            self._note(
                f"stopped gathering after {GATHER_LIMIT_S:g} s with {where} still sending: "
                "results it holds yet come with the next look"
            )

    def _take(self, topic: str, payload: bytes, states: dict[str, str]) -> None:
        """Keep one message (a result in the store, a state in ``states``) or refuse it."""
        parts = topic.split("/")
        station = one_line(parts[1])
        if parts[2] == "result":
            try:
                self._insert_result(parts[1], check_result(payload), time.time())
            except Refused as e:
                self._note(f"station {station}: result refused: {e}")
            return
        states.pop(topic, None)
        if not payload:
            return  # a retained state cleared while we look
        try:
            if parts[2] == "availability":
                states[topic] = check_availability(payload)
            elif parts[2] == "state":
                states[topic] = json.dumps(check_station_state(payload))
            else:
                states[topic] = json.dumps(check_socket_state(payload))
        except Refused as e:
            what = f"socket {one_line(parts[3])}'s state" if parts[2] == "socket" else parts[2]
            self._note(f"station {station}: {what} refused: {e}")

    def _insert_result(self, station: str, event: dict[str, Any], received_at: float) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT OR IGNORE INTO results VALUES (?, ?, ?, ?, ?)",
                (station, event["id"], event["started_at"], json.dumps(event), received_at),
            )

    # -- what the viewer shows -----------------------------------------------------------

    def stations(self) -> list[StationView]:
        with self._lock:
            rows = self._conn.execute("SELECT topic, payload FROM states ORDER BY topic").fetchall()
        found: dict[str, dict[str, Any]] = {}
        for topic, payload in rows:
            parts = topic.split("/")
            station = found.setdefault(parts[1], {"online": False, "state": {}, "sockets": {}})
            if parts[2] == "availability":
                station["online"] = payload == "online"
            elif parts[2] == "state":
                station["state"] = json.loads(payload)
            else:
                station["sockets"][parts[3]] = json.loads(payload)
        return [StationView(name, **view) for name, view in sorted(found.items())]

    def results(self, since: float | None = None) -> list[dict[str, Any]]:
        """Every result kept (received at or after ``since``, epoch seconds), oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT event FROM results WHERE received_at >= ?"
                " ORDER BY received_at, station, started_at, id",
                (since or 0.0,),
            ).fetchall()
        return [json.loads(row[0]) for row in rows]


class _Look:
    """One look at the broker: paho's callbacks (on its network thread) and what they
    found, and the wait for the broker to have sent what it holds."""

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet
        self.states: dict[str, str] = {}  # topic -> payload, as the broker has it now
        self.subscribed = threading.Event()  # or refused: then ``refusal`` says why
        self.refusal = ""
        self.failure = ""  # a message that could not be kept: the look ends with this
        self._changed = threading.Condition()
        self._last_held = 0.0  # when the broker last sent what it held for us

    def on_connect(
        self, client: mqtt.Client, _u: object, _f: object, code: Any, _p: object
    ) -> None:
        if code.is_failure:
            self.refusal = str(code)
            self.subscribed.set()
        else:
            client.subscribe(SUBSCRIPTIONS)

    def on_subscribe(self, _c: mqtt.Client, _u: object, _m: int, _r: object, _p: object) -> None:
        self._held()
        self.subscribed.set()

    def on_message(self, client: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        try:
            self.fleet._take(message.topic, bytes(message.payload), self.states)
        except sqlite3.Error as e:  # not acknowledged: the broker keeps it for the next look
            with self._changed:
                self.failure = f"cannot keep what the broker sent in {self.fleet.path}: {e}"
                self._changed.notify_all()
            return
        client.ack(message.mid, message.qos)
        # Retained states come flagged as such; a state published while we look does not,
        # and a busy station's progress would otherwise keep the look going.
        if message.retain or message.topic.endswith("/result"):
            self._held()

    def _held(self) -> None:
        with self._changed:
            self._last_held = time.monotonic()
            self._changed.notify_all()

    def settle(self) -> bool:
        """Wait until the broker has sent what it holds for us; True when cut short by
        GATHER_LIMIT_S, False when it went quiet or a message could not be kept."""
        deadline = time.monotonic() + GATHER_LIMIT_S
        with self._changed:
            while not self.failure:
                now = time.monotonic()
                quiet_at = self._last_held + QUIET_S
                if now >= quiet_at:
                    return False
                if now >= deadline:
                    return True
                self._changed.wait(min(quiet_at, deadline) - now)
        return False


def overlapping_ranges(stations: list[StationView]) -> list[str]:
    """Pairs of stations whose announced serial ranges overlap, in words."""
    ranges = [(s.id, tuple(s.state["serial_range"])) for s in stations if "serial_range" in s.state]
    warnings = []
    for i, (a, (a_low, a_high)) in enumerate(ranges):
        for b, (b_low, b_high) in ranges[i + 1 :]:
            if a_low <= b_high and b_low <= a_high:
                warnings.append(
                    f"stations {a} ({a_low}-{a_high}) and {b} ({b_low}-{b_high}) give out "
                    "serials from overlapping ranges: the same serial could go to two units"
                )
    return warnings
