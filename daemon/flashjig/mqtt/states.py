"""The retained states: one per socket, at most one progress a second within a stage (a
new stage always goes out), and the station's, rendered from its StationStatus with the
broker connection and the Pi's own figures, again every minute changed or not."""

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from flashjig import __version__
from flashjig.hardware import host
from flashjig.mqtt.connection import ConnectionWatch
from flashjig.mqtt.discovery import Topics
from flashjig.station.commands import StationCommands
from flashjig.station.status import SocketState, SocketStatus

PROGRESS_INTERVAL_S = 1.0
STATION_REFRESH_S = 60.0  # the station state again, for the Pi's temperature and free disk
# Retained states go out at QoS 0 and again on every connect: paho would resend a QoS 1
# state queued during a cut after the fresh ones, and the stale one would stay retained.
STATE_QOS = 0
# A socket entering one of these changes the station's counts.
SETTLED = (SocketState.OK, SocketState.FAILED, SocketState.EMPTY)


class StatePublisher:
    """Publishes the states while ``connection`` is up; ``settled`` is told when a socket
    has an outcome (a result waits in the outbox)."""

    def __init__(
        self,
        client: mqtt.Client,
        topics: Topics,
        commands: StationCommands,
        connection: ConnectionWatch,
        state_dir: Path,
        settled: Callable[[], None],
    ) -> None:
        self.client = client
        self.topics = topics
        self.commands = commands
        self.station = commands.station
        self.connection = connection
        self.state_dir = state_dir
        self._settled = settled
        # Per socket: the state and stage last published, and when.
        self._last_progress: dict[str, tuple[SocketState | None, str, float]] = {}
        # Socket threads change states concurrently; a state is read and published under
        # this lock, so the last one published (retained) is the socket's latest.
        self._lock = threading.RLock()
        self._refresh_at = 0.0  # when the station state goes out again, changed or not

    def publish_all(self) -> None:
        for socket in self.station.sockets.values():
            self.publish_socket(socket.status)
        self.publish_station()

    def publish_socket(self, status: SocketStatus) -> None:
        with self._lock:
            state = {**status.as_dict(), "inserted": status.state is not SocketState.EMPTY}
            self.client.publish(
                self.topics.socket(status.name), json.dumps(state), qos=STATE_QOS, retain=True
            )

    def publish_station(self) -> None:
        with self._lock:
            status = self.commands.status()
            state: dict[str, Any] = {
                "profile": status.profile,
                "ok_today": status.today.ok,
                "failed_today": status.today.failed,
                "ok_total": status.total.ok,
                "failed_total": status.total.failed,
                "flashing": status.flashing,
                "journal": status.journal,
                "broker": self.connection.text,
                # Diagnostics: the outbox, the daemon, the Pi.
                "backlog": self.station.outbox.backlog(),
                "healthy": status.healthy,
                "version": __version__,
                "cpu_temp_c": host.cpu_temperature_c(),
                "disk_free_mb": host.free_megabytes(self.state_dir),
            }
            if status.serial_range is not None:  # the profile hands out serials
                state["serial_range"] = list(status.serial_range)
            self._refresh_at = time.monotonic() + STATION_REFRESH_S
            self.client.publish(self.topics.station, json.dumps(state), qos=STATE_QOS, retain=True)

    def refresh_if_due(self) -> None:
        """The Pi's temperature and free disk move on their own."""
        if self.connection.connected and time.monotonic() >= self._refresh_at:
            self.publish_station()

    def station_changed(self) -> None:
        """Station listener: its profile, drain or journal changed."""
        if self.connection.connected:
            self.publish_station()

    def socket_changed(self, status: SocketStatus) -> None:
        """Station listener: every state and stage change goes out; progress within a stage
        at most once a second."""
        if not self.connection.connected:
            return
        with self._lock:
            state, stage = status.state, status.stage or ""
            now = time.monotonic()
            last_state, last_stage, last_time = self._last_progress.get(
                status.name, (None, "", 0.0)
            )
            # Only progress within one stage is thinned out: a new stage always goes out.
            busy = state is last_state is SocketState.FLASHING and stage == last_stage
            if busy and now - last_time < PROGRESS_INTERVAL_S:
                return
            self._last_progress[status.name] = (state, stage, now)
            self.publish_socket(status)
        if state is not last_state and state in SETTLED:
            self.publish_station()
            self._settled()
