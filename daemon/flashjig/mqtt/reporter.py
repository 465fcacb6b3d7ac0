"""Report a station to an MQTT broker (paho-mqtt 2.x), with Home Assistant discovery.

What goes out: a retained ``online``/``offline`` availability (``offline`` is also the
last will), a retained JSON state per socket (progress at most once a second) and per
station, and one QoS 1 result event per finished attempt (its schema: flashjig.mqtt.result).
Results go through the journal as an outbox: a row is marked published only once the
broker has acknowledged it, so a broker that is away, or a daemon restart, loses nothing
and, as far as the journal can tell, sends nothing twice. An outcome the journal cannot
take (a full disk) is published from the station's memory and recorded as published.
Flashing never waits for the broker: publishing happens on paho's thread and our outbox
thread.

With ``mqtt.commands: true`` the station takes flash, cancel and profile commands; only
names from the config are accepted, and anything else is answered on the error topic.
"""

import contextlib
import json
import logging
import random
import ssl
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from socket import gaierror
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from flashjig import __version__
from flashjig.config import Config
from flashjig.errors import CommandError
from flashjig.hardware import host
from flashjig.mqtt.client import client_for
from flashjig.mqtt.discovery import Topics, device_config
from flashjig.mqtt.result import result_event
from flashjig.station.commands import StationCommands
from flashjig.station.status import SocketState, SocketStatus

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 1.0
MAX_COMMAND_BYTES = 256
BIRTH_DELAY_S = (0.5, 2.0)  # spread discovery after a Home Assistant restart
ACK_TIMEOUT_S = 5.0
RECONNECT_DELAY_S = (1, 30)  # between connection attempts: the first wait, doubled up to this
# Connections the broker closes this soon after it accepted them, this many times in a
# row: another client has our client id (a second station with the same station id).
SHORT_CONNECTION_S = 5.0
SHORT_CONNECTIONS = 3
STATION_REFRESH_S = 60.0  # the station state again, for the Pi's temperature and free disk
DISCOVERY_FILE = "mqtt-discovery.json"
BUTTON_PAYLOADS = ("", "PRESS")
# Retained states go out at QoS 0 and again on every connect: paho would resend a QoS 1
# state queued during a cut after the fresh ones, and the stale one would stay retained.
STATE_QOS = 0
# A socket entering one of these changes the station's counts.
SETTLED = (SocketState.OK, SocketState.FAILED, SocketState.EMPTY)


class MqttReporter:
    def __init__(self, config: Config, commands: StationCommands, state_dir: Path) -> None:
        if config.mqtt is None:
            raise ValueError("no mqtt section in the config")
        self.config = config
        self.settings = config.mqtt
        self.commands = commands
        self.station = commands.station
        self.outbox = commands.station.outbox
        self.topics = Topics(config)
        self.state_dir = state_dir
        self._discovery_file = state_dir / DISCOVERY_FILE
        self.client_id = self.settings.client_id or f"flashjig-{config.station.id}"
        self._connected = threading.Event()
        # How the broker connection is, in words ("connected to ..." or what is wrong),
        # and the last problem logged: each is logged once, and again when it changes.
        self._connection = f"connecting to {config.mqtt.host}:{config.mqtt.port}"
        self._unsubscribe: Callable[[], None] | None = None
        self._logged_problem: str | None = None
        self._connected_at = 0.0
        self._short_connections = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        # Per socket: the state and stage last published, and when.
        self._last_progress: dict[str, tuple[SocketState | None, str, float]] = {}
        # Socket threads change states concurrently; a state is read and published under
        # this lock, so the last one published (retained) is the socket's latest.
        self._state_lock = threading.RLock()
        # Results sent and not yet acknowledged: journal id -> (mid, when sent). paho's
        # MQTTMessageInfo cannot say so for a message sent while the connection was down
        # (it raises), so acknowledgements are taken from on_publish.
        self._pending: dict[int, tuple[int, float]] = {}
        self._acks = threading.Condition()
        self._acked_at: dict[int, float] = {}
        self._refresh_at = 0.0  # when the station state goes out again, changed or not
        self._republish_lock = threading.Lock()
        self._republish_timer: threading.Timer | None = None
        # The outbox's rounds begun and ended, for outbox_round() to wait on.
        self._rounds = threading.Condition()
        self._rounds_begun = 0
        self._rounds_ended = 0
        self._outbox = threading.Thread(target=self._drain_outbox, name="mqtt-outbox", daemon=True)
        self.client = self._client()

    def _client(self) -> mqtt.Client:
        client = client_for(self.settings, self.client_id)
        client.will_set(self.topics.availability, "offline", qos=1, retain=True)
        client.reconnect_delay_set(*RECONNECT_DELAY_S)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self._on_publish
        client.on_connect_fail = self._on_connect_fail
        return client

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        self._unsubscribe = self.station.subscribe(self.socket_changed, self.station_changed)
        self.station.set_broker(self.connection)
        self.client.connect_async(
            self.settings.host, self.settings.port, keepalive=self.settings.keepalive
        )
        self.client.loop_start()
        self._outbox.start()

    def stop(self, flush_s: float = 2.0) -> None:
        """Send what is left (briefly), say offline, disconnect."""
        if self._unsubscribe is not None:
            self._unsubscribe()
        self.station.set_broker(None)
        if self._connected.is_set():
            self._wake.set()
            deadline = time.monotonic() + flush_s
            while not self.outbox.empty and time.monotonic() < deadline:
                time.sleep(0.05)
            info = self.client.publish(self.topics.availability, "offline", qos=1, retain=True)
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(timeout=flush_s)
        with self._republish_lock:
            if self._republish_timer is not None:
                self._republish_timer.cancel()
        self._stop.set()
        self._wake.set()
        self.client.disconnect()
        self.client.loop_stop()
        self._outbox.join(timeout=5)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def connection(self) -> str:
        """How the broker connection is, in words: "connected to ..." or what is wrong."""
        return self._connection

    @connection.setter
    def connection(self, text: str) -> None:
        self._connection = text
        if self._unsubscribe is not None:  # started: the station's status shows it
            self.station.set_broker(text)

    # -- paho callbacks (paho's network thread) ------------------------------------------

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            self._problem(f"the MQTT broker {self._broker} refused the connection: {reason_code}")
            return
        self.connection = f"connected to {self._broker}"
        self._connected_at = time.monotonic()
        if self._logged_problem is None:
            log.info("connected to MQTT broker %s", self._broker)
        client.publish(self.topics.availability, "online", qos=1, retain=True)
        client.subscribe(self.topics.birth, qos=1)
        if self.settings.commands:
            client.subscribe(f"{self.topics.commands}/#", qos=1)
        # Connected before the states go: a socket changing meanwhile publishes its own.
        self._connected.set()
        try:
            self.publish_discovery()
            self.publish_states()
        except Exception:  # paho's network thread must live on (disk full, journal error)
            log.exception("publishing discovery and states to the broker failed")
        self._wake.set()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if self._connected.is_set():
            self._connected.clear()
            if time.monotonic() - self._connected_at < SHORT_CONNECTION_S:
                self._short_connections += 1
            else:
                self._short_connections = 0
            if self._short_connections >= SHORT_CONNECTIONS:
                self._problem(
                    f"the MQTT broker {self._broker} closes the connection right after it "
                    f"opens ({self._short_connections} times in a row): another client uses "
                    f"client id {self.client_id!r}; is a second station running "
                    f"with station id {self.config.station.id}?"
                )
                return
            log.warning("lost the MQTT broker (%s); results wait in the journal", reason_code)
            self.connection = f"lost {self._broker} ({reason_code}), reconnecting"
        self._connected.clear()

    def _on_connect_fail(self, client: mqtt.Client, userdata: object) -> None:
        """paho's network thread, inside its ``except OSError`` around a connection attempt:
        the exception being handled says why (refused, unreachable, a name that does not
        resolve, a certificate that does not verify), which paho itself keeps quiet."""
        error = sys.exception()
        self._problem(f"cannot connect to the MQTT broker {self._broker}: {_why(error)}")

    def _note_stable_connection(self) -> None:
        """A connection that has lasted is the end of a problem: say so, once. (A broker
        that closes each connection at once, for a client id used twice, is no end.)"""
        stable = time.monotonic() - self._connected_at >= SHORT_CONNECTION_S
        if not (self._connected.is_set() and stable):
            return
        self._short_connections = 0
        if self._logged_problem is not None:
            log.info("connected to MQTT broker %s (it was: %s)", self._broker, self._logged_problem)
            self._logged_problem = None

    def _problem(self, text: str) -> None:
        """A connection problem: shown in status at once, logged once until it changes."""
        self.connection = text
        if text != self._logged_problem:
            log.warning("%s (retrying)", text)
            self._logged_problem = text

    @property
    def _broker(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        if message.topic == self.topics.birth:
            if message.payload == b"online":
                self._schedule_republish()
            return
        try:
            self._command(message.topic, message.payload)
        except CommandError as e:
            self._refuse(message.topic, message.payload, str(e))
        except Exception as e:  # a command must never take the daemon down
            log.exception("MQTT command on %s failed", message.topic)
            self._refuse(message.topic, message.payload, f"internal error: {e}")

    def _schedule_republish(self) -> None:
        """One republish for a burst of birth messages (Home Assistant restarting, or
        several instances on one broker): a birth while one is pending joins it."""
        with self._republish_lock:
            if self._republish_timer is not None:
                return
            delay = random.uniform(*BIRTH_DELAY_S)
            self._republish_timer = threading.Timer(delay, self._republish)
            # Named in a dump of the daemon's threads, and for the tests to wait on.
            self._republish_timer.name = "mqtt-republish"
            self._republish_timer.daemon = True
            self._republish_timer.start()

    def _republish(self) -> None:
        with self._republish_lock:
            self._republish_timer = None
        log.info("Home Assistant came online: sending discovery and states again")
        self.publish_discovery()
        self.publish_states()

    # -- commands ------------------------------------------------------------------------

    def _command(self, topic: str, payload: bytes | bytearray) -> None:
        if len(payload) > MAX_COMMAND_BYTES:
            raise CommandError(f"payload of {len(payload)} bytes is too large")
        try:
            text = payload.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise CommandError("payload is not UTF-8 text") from None
        parts = topic[len(self.topics.commands) + 1 :].split("/")
        if parts == ["flash"]:
            self._button(text)
            log.info("MQTT: flash all requested")
            self.commands.flash()
        elif len(parts) == 2 and parts[0] == "flash":
            socket = self.commands.known(parts[1])
            self._button(text)
            log.info("MQTT: flash %s requested", socket, extra={"SOCKET": socket})
            self.commands.flash(socket)
        elif parts == ["cancel"]:
            self._button(text)
            log.info("MQTT: cancel requested")
            self.commands.cancel()
        elif parts == ["profile"]:
            self.commands.set_profile(text)
        else:
            raise CommandError("unknown command topic")

    @staticmethod
    def _button(text: str) -> None:
        if text not in BUTTON_PAYLOADS:
            raise CommandError(f"unexpected payload {text[:40]!r} (send PRESS or nothing)")

    def _refuse(self, topic: str, payload: bytes | bytearray, error: str) -> None:
        log.warning("MQTT command on %s refused: %s", topic, error)
        event = {"topic": topic, "payload": payload[:64].decode("utf-8", "replace"), "error": error}
        self.client.publish(self.topics.error, json.dumps(event), qos=1)

    # -- what we publish -----------------------------------------------------------------

    def publish_discovery(self) -> None:
        announced = self._announced()
        previous_topic = announced.get("topic", self.topics.discovery)
        payload = device_config(self.config, self.topics, announced.get("components", {}))
        current = {cid: c["p"] for cid, c in payload["cmps"].items() if len(c) > 1}
        if previous_topic != self.topics.discovery:  # announced elsewhere before: take it back
            self.client.publish(previous_topic, b"", qos=1, retain=True)
        self.client.publish(self.topics.discovery, json.dumps(payload), qos=1, retain=True)
        try:
            self._discovery_file.parent.mkdir(parents=True, exist_ok=True)
            record = {"topic": self.topics.discovery, "components": current}
            self._discovery_file.write_text(json.dumps(record))
        except OSError as e:
            log.warning(
                "cannot keep what discovery announced (%s): sockets taken out of the config "
                "later may stay in Home Assistant",
                e,
            )

    def _announced(self) -> dict[str, Any]:
        """What discovery last announced, and where: {"topic", "components": {id: platform}}.
        A record from before the topic was kept (components only) was announced at
        flashjig 0.1.0's topic, <prefix>/device/<uid>/config."""
        try:
            record = json.loads(self._discovery_file.read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(record, dict):
            return {}
        if "components" not in record:
            return {
                "topic": f"{self.topics.prefix}/device/{self.topics.uid}/config",
                "components": record,
            }
        return record

    def publish_states(self) -> None:
        for socket in self.station.sockets.values():
            self.publish_socket(socket.status)
        self.publish_station()

    def publish_socket(self, status: SocketStatus) -> None:
        with self._state_lock:
            state = {**status.as_dict(), "inserted": status.state is not SocketState.EMPTY}
            self.client.publish(
                self.topics.socket(status.name), json.dumps(state), qos=STATE_QOS, retain=True
            )

    def publish_station(self) -> None:
        with self._state_lock:
            status = self.commands.status()
            state: dict[str, Any] = {
                "profile": status.profile,
                "ok_today": status.today.ok,
                "failed_today": status.today.failed,
                "ok_total": status.total.ok,
                "failed_total": status.total.failed,
                "flashing": status.flashing,
                "journal": status.journal,
                "broker": self.connection,
                # Diagnostics: the outbox, the daemon, the Pi.
                "backlog": self.outbox.backlog(),
                "healthy": status.healthy,
                "version": __version__,
                "cpu_temp_c": host.cpu_temperature_c(),
                "disk_free_mb": host.free_megabytes(self.state_dir),
            }
            if status.serial_range is not None:  # the profile hands out serials
                state["serial_range"] = list(status.serial_range)
            self._refresh_at = time.monotonic() + STATION_REFRESH_S
            self.client.publish(self.topics.station, json.dumps(state), qos=STATE_QOS, retain=True)

    def station_changed(self) -> None:
        """Station listener: its profile, drain or journal changed."""
        if self._connected.is_set():
            self.publish_station()

    def socket_changed(self, status: SocketStatus) -> None:
        """Station listener: every state and stage change goes out; progress within a stage
        at most once a second."""
        if not self._connected.is_set():
            return
        with self._state_lock:
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
            self._wake.set()

    # -- the result outbox ---------------------------------------------------------------

    def outbox_round(self, timeout: float) -> bool:
        """Wake the outbox and wait until a round of it that began after this call has
        ended: by then it has handed paho whatever it was going to publish (and, connected,
        has had it acknowledged or given up waiting). The tests wait on this, not on the
        outbox's one-second tick; False after ``timeout`` seconds."""
        with self._rounds:
            # A round counted from now on runs its body after this line.
            after = self._rounds_begun + 1
        self._wake.set()
        with self._rounds:
            return self._rounds.wait_for(lambda: self._rounds_ended >= after, timeout)

    def _drain_outbox(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=1.0)
            self._wake.clear()
            with self._rounds:
                self._rounds_begun += 1
            self._note_stable_connection()
            if self._connected.is_set() and time.monotonic() >= self._refresh_at:
                self.publish_station()  # the Pi's temperature and free disk move on their own
            while self._connected.is_set() and not self._stop.is_set():
                try:
                    moved = self._publish_batch()
                except Exception:  # a journal error: try again on the next wake-up
                    log.exception("publishing results from the journal failed")
                    break
                if not moved:
                    break
            with self._rounds:
                self._rounds_ended += 1
                self._rounds.notify_all()

    def _publish_batch(self) -> bool:
        """Publish unacknowledged results in journal order, then the outcomes the station
        holds because the journal cannot be written; False when nothing moved."""
        moved = False
        for attempt_id, sent in list(self._pending.items()):
            if self._acked(sent):
                self._acknowledged(attempt_id)
                moved = True
        for row in self.outbox.unpublished(limit=50):
            if row.id in self._pending:
                continue
            sent_at = time.monotonic()
            event = json.dumps(result_event(row))
            info = self.client.publish(self.topics.result, event, qos=1)
            # NO_CONN: the connection went just now; paho keeps the message all the same
            # and sends it on reconnecting, so it is pending like any other.
            if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
                return moved
            sent = self._pending[row.id] = (info.mid, sent_at)
            if info.rc == mqtt.MQTT_ERR_NO_CONN:
                return moved
            with self._acks:
                if not self._acks.wait_for(partial(self._acked, sent), ACK_TIMEOUT_S):
                    return moved  # left pending: paho resends it after a reconnect
            self._acknowledged(row.id)
            moved = True
        return moved

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        """paho's network thread: the broker acknowledged message ``mid``. Called with
        paho's queue locked, so it takes only its own small lock."""
        with self._acks:
            self._acked_at[mid] = time.monotonic()
            self._acks.notify_all()

    def _acked(self, sent: tuple[int, float]) -> bool:
        """Whether the message sent as (mid, when) is acknowledged: an acknowledgement of
        its mid from before it was sent was for an earlier message (mids wrap at 65535)."""
        mid, sent_at = sent
        with self._acks:
            return self._acked_at.get(mid, -1.0) >= sent_at

    def _acknowledged(self, attempt_id: int) -> None:
        """The broker has a result (a journal error leaves it pending, so it is not sent
        again)."""
        self.outbox.published(attempt_id)
        del self._pending[attempt_id]


def _why(error: BaseException | None) -> str:
    """An exception from connecting, in a person's words."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"its TLS certificate does not verify ({error.verify_message})"
    if isinstance(error, ssl.SSLError):
        return f"TLS failed ({error.reason or error})"
    if isinstance(error, gaierror):
        return f"the name does not resolve ({error.strerror})"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused (is the broker running, on this port?)"
    if isinstance(error, TimeoutError):
        return "no answer (timed out)"
    if isinstance(error, OSError):
        return error.strerror or str(error)
    return str(error) if error is not None else "unknown error"
