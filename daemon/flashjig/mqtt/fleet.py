"""Several stations on one broker, seen as one: a viewer that gathers every station's
retained states and its result events into a SQLite file of its own.

The viewer keeps a persistent MQTT session (a fixed client id, clean_session off, results
subscribed at QoS 1): while it is away the broker queues the results for it, so the next
look misses none, as long as it has connected once before (a broker queues only for a
session it knows). Each result is kept once, by station and journal id, however often it
arrives. Stations announce their serial ranges on their state topic; two stations whose
ranges overlap would hand out the same serial, and the view says so.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from flashjig.config import MqttConfig
from flashjig.errors import FlashjigError
from flashjig.mqtt.client import client_for

FLEET_FILE = "fleet.sqlite3"
QUIET_S = 1.0  # a gathering ends once the broker has sent nothing for this long
CONNECT_TIMEOUT_S = 10.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    station TEXT NOT NULL, id INTEGER NOT NULL, event TEXT NOT NULL, received_at REAL NOT NULL,
    PRIMARY KEY (station, id)
);
CREATE TABLE IF NOT EXISTS states (topic TEXT PRIMARY KEY, payload TEXT NOT NULL);
"""


class FleetError(FlashjigError):
    """The broker could not be reached or refused the viewer."""


@dataclass(frozen=True)
class StationView:
    """One station as its retained topics show it."""

    id: str
    online: bool
    state: dict[str, Any]
    sockets: dict[str, dict[str, Any]]


class Fleet:
    """The viewer's store: results and retained states, gathered from the broker."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._conn = sqlite3.connect(path, check_same_thread=False)
        self._conn.executescript(SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._conn.close()

    # -- gathering -----------------------------------------------------------------------

    def gather(self, settings: MqttConfig) -> int:
        """Connect, take what the broker holds for us (retained states, queued results),
        return how many messages came once it has gone quiet."""
        count = [0]
        last = [time.monotonic()]
        connected = threading.Event()
        refused: list[str] = []

        def on_connect(client: mqtt.Client, _u: object, _f: object, code: Any, _p: object) -> None:
            if code.is_failure:
                refused.append(str(code))
            else:
                client.subscribe([("flashjig/+/result", 1), ("flashjig/+/state", 1),
                                  ("flashjig/+/availability", 1),
                                  ("flashjig/+/socket/+/state", 1)])  # fmt: skip
            connected.set()

        def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
            self._keep(message.topic, bytes(message.payload))
            count[0] += 1
            last[0] = time.monotonic()

        try:  # persistent: the broker queues results for us while we are away
            client = client_for(settings, f"flashjig-fleet-{socket.gethostname()}", persistent=True)
        except OSError as e:  # its password file, its certificates
            raise FleetError(
                f"cannot read {e.filename or 'a file the mqtt section names'}: {e.strerror or e}"
            ) from None
        client.on_connect = on_connect
        client.on_message = on_message
        try:
            client.connect(settings.host, settings.port, keepalive=settings.keepalive)
        except OSError as e:
            where = f"{settings.host}:{settings.port}"
            raise FleetError(f"cannot reach the MQTT broker {where}: {e}") from None
        client.loop_start()
        try:
            if not connected.wait(CONNECT_TIMEOUT_S) or refused:
                why = refused[0] if refused else "no answer"
                raise FleetError(f"the MQTT broker {settings.host}:{settings.port}: {why}")
            last[0] = time.monotonic()
            while time.monotonic() - last[0] < QUIET_S:
                time.sleep(0.1)
        finally:
            client.disconnect()
            client.loop_stop()
        return count[0]

    def _keep(self, topic: str, payload: bytes) -> None:
        parts = topic.split("/")
        with self._lock, self._conn:
            if len(parts) == 3 and parts[2] == "result":
                try:
                    event = json.loads(payload)
                    key = (parts[1], int(event["id"]))
                except (ValueError, KeyError, TypeError):
                    return  # not a station's result event: nothing to keep
                self._conn.execute(
                    "INSERT OR IGNORE INTO results VALUES (?, ?, ?, ?)",
                    (*key, payload.decode("utf-8", "replace"), time.time()),
                )
            elif payload:
                self._conn.execute(
                    "INSERT OR REPLACE INTO states VALUES (?, ?)",
                    (topic, payload.decode("utf-8", "replace")),
                )
            else:  # a retained state cleared
                self._conn.execute("DELETE FROM states WHERE topic = ?", (topic,))

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
                station["state"] = _json(payload)
            elif parts[2] == "socket" and len(parts) == 5:
                station["sockets"][parts[3]] = _json(payload)
        return [StationView(name, **view) for name, view in sorted(found.items())]

    def results(self, since: float | None = None) -> list[dict[str, Any]]:
        """Every result kept (received at or after ``since``, epoch seconds), oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT event FROM results WHERE received_at >= ?"
                " ORDER BY received_at, station, id",
                (since or 0.0,),
            ).fetchall()
        return [json.loads(row[0]) for row in rows]


def overlapping_ranges(stations: list[StationView]) -> list[str]:
    """Pairs of stations whose announced serial ranges overlap, in words."""
    ranges = [
        (s.id, tuple(s.state["serial_range"]))
        for s in stations
        if isinstance(s.state.get("serial_range"), list) and len(s.state["serial_range"]) == 2
    ]
    warnings = []
    for i, (a, (a_low, a_high)) in enumerate(ranges):
        for b, (b_low, b_high) in ranges[i + 1 :]:
            if a_low <= b_high and b_low <= a_high:
                warnings.append(
                    f"stations {a} ({a_low}-{a_high}) and {b} ({b_low}-{b_high}) give out "
                    "serials from overlapping ranges: the same serial could go to two units"
                )
    return warnings


def _json(payload: str) -> dict[str, Any]:
    try:
        value = json.loads(payload)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
