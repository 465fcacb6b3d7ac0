"""Several stations on one broker, seen as one: a viewer that gathers every station's
retained states and its result events into a store of its own (flashjig.mqtt.fleetstore).

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

import json
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from flashjig.config import MqttConfig
from flashjig.errors import FleetError, PasswordError
from flashjig.mqtt.client import client_for
from flashjig.mqtt.fleetstore import FleetStore, FleetStoreError
from flashjig.mqtt.incoming import (
    Refused,
    check_availability,
    check_result,
    check_socket_state,
    check_station_state,
    one_line,
)

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


@dataclass(frozen=True)
class StationView:
    """One station as its retained topics show it."""

    id: str
    online: bool
    state: dict[str, Any]
    sockets: dict[str, dict[str, Any]]


class Fleet:
    """The viewer: results and retained states, gathered from the broker into its store,
    and what was refused on the way (``notes``)."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._notes: dict[str, int] = {}  # a line -> how often it came
        self._store = FleetStore(path, recheck=self._recheck)

    def close(self) -> None:
        self._store.close()

    @property
    def notes(self) -> list[str]:
        """What the viewer refused or could not finish, one line each, said once."""
        with self._lock:
            return [text if n == 1 else f"{text} ({n} times)" for text, n in self._notes.items()]

    def _note(self, text: str) -> None:
        with self._lock:
            self._notes[text] = self._notes.get(text, 0) + 1

    def _recheck(self, station: str, event: str) -> dict[str, Any] | None:
        """A result an earlier viewer kept, checked as new ones are; None (said) when it
        does not pass."""
        try:
            return check_result(event.encode())
        except Refused as e:
            self._note(
                f"station {one_line(station)}: a result an earlier flashjig kept is dropped: {e}"
            )
            return None

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
        self._store.replace_states(look.states)
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
                self._store.keep_result(parts[1], check_result(payload), time.time())
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

    # -- what the viewer shows -----------------------------------------------------------

    def stations(self) -> list[StationView]:
        found: dict[str, dict[str, Any]] = {}
        for topic, payload in self._store.states():
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
        return self._store.results(since)


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
        except FleetStoreError as e:  # not acknowledged: the broker keeps it for the next look
            with self._changed:
                self.failure = str(e)
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
