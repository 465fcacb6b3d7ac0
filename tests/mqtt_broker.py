"""A real mosquitto on loopback for the MQTT tests, a subscriber that records, a proxy
that plays a bad network, and sentinels: the way a test knows a client's messages are in,
rather than sleeping."""

import contextlib
import getpass
import itertools
import json
import shutil
import socket
import subprocess
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
from helpers import wait_for

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """mosquitto on 127.0.0.1 with a config of our own; stop() and start() keep the port."""

    def __init__(
        self, directory: Path, *, extra: str = "", anonymous: bool = True, persistent: bool = False
    ) -> None:
        self.directory = directory
        self.port = free_port()
        self.conf = directory / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            f"allow_anonymous {'true' if anonymous else 'false'}\n"
            + (
                f"persistence true\npersistence_location {directory}/\n"
                if persistent
                else "persistence false\n"
            )
            +
            # As root mosquitto drops to user 'mosquitto', who cannot read pytest's tmp.
            f"user {getpass.getuser()}\n"
            f"{extra}"
        )
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

        def listening() -> bool:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return True
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto failed: {self.proc.stderr.read().decode()}")
            return False

        wait_for(listening, timeout=10, what="mosquitto listening")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        if self.proc:
            self.proc.stderr.close()


class Recorder:
    """Subscribes to everything and keeps (topic, payload, retain) in arrival order;
    ``subscribed`` is set once the broker has the subscription (from then on nothing
    published is missed)."""

    def __init__(self, port: int, topic: str = "#", client_id: str = "", **auth) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        self.subscribed = threading.Event()
        # With a client id the session persists: QoS 1 messages wait while we are away.
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=not client_id
        )
        if auth.get("username"):
            self.client.username_pw_set(auth["username"], auth.get("password"))
        if auth.get("ca"):
            self.client.tls_set(ca_certs=auth["ca"])
        self.client.on_connect = lambda c, *a: c.subscribe(topic, qos=1)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: self.subscribed.set()
        self.client.reconnect_delay_set(0.2, 1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, client, userdata, message) -> None:
        with self._lock:
            self.messages.append((message.topic, message.payload, message.retain))

    def on(self, topic: str) -> list[bytes]:
        with self._lock:
            return [p for t, p, _ in self.messages if t == topic]

    def json_on(self, topic: str) -> list:
        return [json.loads(p) for p in self.on(topic) if p]

    def last(self, topic: str) -> bytes | None:
        payloads = self.on(topic)
        return payloads[-1] if payloads else None

    def wait(self, predicate, timeout: float = 20.0, what: str = "messages") -> None:
        """wait_for with the recorder's default timeout (messages may take a reconnect)."""
        wait_for(predicate, timeout=timeout, what=what)

    def publish(self, topic: str, payload, **kwargs) -> None:
        """Publish at QoS 1 and return once the broker has acknowledged it (paho's
        wait_for_publish returns at its timeout too: that is a failure here)."""
        sent = self.client.publish(topic, payload, qos=1, **kwargs)
        sent.wait_for_publish(5)
        assert sent.is_published(), f"the broker did not acknowledge {topic} in 5 s"

    def close(self) -> None:
        # Disconnecting first ends paho's loop at once; stopped first, the loop would sit
        # out its one-second select.
        self.client.disconnect()
        self.client.loop_stop()


SENTINEL = "flashjig-tests/sentinel"
_markers = itertools.count()


def sentinel(client: mqtt.Client, recorder: Recorder, timeout: float = 20.0) -> None:
    """Publish a marker through ``client`` and wait until ``recorder`` has it: mosquitto
    hands one client's QoS 1 messages to a subscriber in the order the client sent them,
    so whatever ``client`` had sent before (a result sent twice, discovery sent again) has
    reached the recorder by then. The end of a check that nothing more comes."""
    marker = str(next(_markers)).encode()
    client.publish(SENTINEL, marker, qos=1)
    recorder.wait(lambda: marker in recorder.on(SENTINEL), timeout=timeout, what="the sentinel")


def all_in(client: mqtt.Client, timeout: float = 20.0) -> None:
    """Return once the broker has taken everything ``client`` sent before this call, even
    what paho was still resending after a reconnect: the acknowledgement of a first marker
    is read on paho's network thread only after it has finished with the connection's
    CONNACK (and the resends that follow it), so a second marker goes out behind those; the
    broker handles one client's packets in order and acknowledges the second after them."""
    for _ in range(2):
        info = client.publish(SENTINEL, str(next(_markers)), qos=1)
        info.wait_for_publish(timeout)
        assert info.is_published(), f"the broker did not acknowledge a marker in {timeout:g} s"


class Proxy:
    """A TCP proxy on loopback between a client and the broker, to play a bad network:
    ``blackhole()`` keeps the connections open but drops what the client sends (a link
    gone quiet), ``cut()`` closes them and refuses new ones, ``restore()`` lets them in."""

    def __init__(self, broker_port: int) -> None:
        self.broker_port = broker_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._dropping = False
        self._dropped: list[bytes] = []
        self._open = True
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            with self._lock:
                if not self._open:
                    client.close()
                    continue
                upstream = socket.create_connection(("127.0.0.1", self.broker_port))
                self._pairs.append((client, upstream))
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, target: socket.socket, from_client: bool) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            if from_client and self._dropping:
                with self._lock:
                    self._dropped.append(data)
                continue
            try:
                target.sendall(data)
            except OSError:
                break
        for s in (source, target):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)

    def blackhole(self) -> None:
        self._dropping = True

    def dropped(self) -> list[bytes]:
        """What the blackhole took from the client (as read: a packet, or several)."""
        with self._lock:
            return list(self._dropped)

    def cut(self) -> None:
        with self._lock:
            self._open = False
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for s in pair:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def restore(self) -> None:
        with self._lock:
            self._dropping = False
            self._open = True

    def close(self) -> None:
        self.cut()
        self._listener.close()
