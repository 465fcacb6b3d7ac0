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

``MqttReporter`` owns the paho client and wires its callbacks to the parts that do the
work, each in a module of flashjig.mqtt: ConnectionWatch (connection), CommandHandler
(commands), DiscoveryAnnouncer (announcer), StatePublisher (states) and ResultSender
(outbox).
"""

import contextlib
import sys
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from flashjig.config import Config
from flashjig.mqtt import reporter_log as log
from flashjig.mqtt.announcer import DISCOVERY_FILE, DiscoveryAnnouncer
from flashjig.mqtt.client import client_for
from flashjig.mqtt.commands import CommandHandler
from flashjig.mqtt.connection import ConnectionWatch
from flashjig.mqtt.discovery import Topics
from flashjig.mqtt.outbox import ResultSender
from flashjig.mqtt.states import StatePublisher
from flashjig.station.commands import StationCommands
from flashjig.station.status import SocketStatus

RECONNECT_DELAY_S = (1, 30)  # between connection attempts: the first wait, doubled up to this


class MqttReporter:
    """A station's reporter: the paho client, its callbacks handed to the parts."""

    def __init__(self, config: Config, commands: StationCommands, state_dir: Path) -> None:
        if config.mqtt is None:
            raise ValueError("no mqtt section in the config")
        self.config = config
        self.settings = config.mqtt
        self.station = commands.station
        self.topics = Topics(config)
        self.client_id = self.settings.client_id or f"flashjig-{config.station.id}"
        self._unsubscribe: Callable[[], None] | None = None
        self.watch = ConnectionWatch(
            f"{self.settings.host}:{self.settings.port}",
            self.client_id,
            config.station.id,
            show=self._show_connection,
        )
        self.client = client_for(self.settings, self.client_id)
        self.results = ResultSender(
            self.client,
            self.topics.result,
            self.station.outbox,
            connected=lambda: self.watch.connected,
            each_round=self._each_round,
        )
        self.states = StatePublisher(
            self.client, self.topics, commands, self.watch, state_dir, settled=self.results.wake
        )
        self.announcer = DiscoveryAnnouncer(
            config, self.topics, self.client, state_dir / DISCOVERY_FILE, then=self.publish_states
        )
        self.command_handler = CommandHandler(commands, self.client, self.topics)
        self._wire()

    def _wire(self) -> None:
        client = self.client
        client.will_set(self.topics.availability, "offline", qos=1, retain=True)
        client.reconnect_delay_set(*RECONNECT_DELAY_S)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.on_publish = self.results.on_publish
        client.on_connect_fail = self._on_connect_fail

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        self._unsubscribe = self.station.subscribe(self.socket_changed, self.station_changed)
        self.station.set_broker(self.connection)
        self.client.connect_async(
            self.settings.host, self.settings.port, keepalive=self.settings.keepalive
        )
        self.client.loop_start()
        self.results.start()

    def stop(self, flush_s: float = 2.0) -> None:
        """Send what is left (briefly), say offline, disconnect."""
        if self._unsubscribe is not None:
            self._unsubscribe()
        self.station.set_broker(None)
        if self.watch.connected:
            self.results.flush(flush_s)
            info = self.client.publish(self.topics.availability, "offline", qos=1, retain=True)
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(timeout=flush_s)
        self.announcer.cancel()
        self.results.stop()
        self.client.disconnect()
        self.client.loop_stop()
        self.results.join(timeout=5)

    @property
    def connected(self) -> bool:
        return self.watch.connected

    @property
    def connection(self) -> str:
        """How the broker connection is, in words: "connected to ..." or what is wrong."""
        return self.watch.text

    def outbox_round(self, timeout: float) -> bool:
        """A round of the result outbox begun after this call has ended (ResultSender.round)."""
        return self.results.round(timeout)

    def _show_connection(self, text: str) -> None:
        if self._unsubscribe is not None:  # started: the station's status shows it
            self.station.set_broker(text)

    def _each_round(self) -> None:
        """The outbox thread's once a second: the end of a connection problem, said; the
        station state refreshed."""
        self.watch.note_stable()
        self.states.refresh_if_due()

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
            self.watch.refused(reason_code)
            return
        self.watch.opened()
        client.publish(self.topics.availability, "online", qos=1, retain=True)
        client.subscribe(self.topics.birth, qos=1)
        if self.settings.commands:
            client.subscribe(f"{self.topics.commands}/#", qos=1)
        # Connected before the states go: a socket changing meanwhile publishes its own.
        self.watch.ready()
        try:
            self.announcer.publish()
            self.publish_states()
        except Exception:  # paho's network thread must live on (disk full, journal error)
            log.exception("publishing discovery and states to the broker failed")
        self.results.wake()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        self.watch.closed(reason_code)

    def _on_connect_fail(self, client: mqtt.Client, userdata: object) -> None:
        """paho's network thread, inside its ``except OSError`` around a connection attempt:
        the exception being handled says why (refused, unreachable, a name that does not
        resolve, a certificate that does not verify), which paho itself keeps quiet."""
        self.watch.failed(sys.exception())

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        if message.topic == self.topics.birth:
            if message.payload == b"online":
                self.announcer.birth()
            return
        self.command_handler.handle(message.topic, message.payload)

    # -- what we publish -----------------------------------------------------------------

    def publish_states(self) -> None:
        self.states.publish_all()

    def publish_socket(self, status: SocketStatus) -> None:
        self.states.publish_socket(status)

    def publish_station(self) -> None:
        self.states.publish_station()

    def socket_changed(self, status: SocketStatus) -> None:
        """Station listener (StatePublisher.socket_changed)."""
        self.states.socket_changed(status)

    def station_changed(self) -> None:
        """Station listener (StatePublisher.station_changed)."""
        self.states.station_changed()
