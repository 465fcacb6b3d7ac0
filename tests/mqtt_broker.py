"""A real mosquitto on loopback for the MQTT tests, and a subscriber that records."""

import getpass
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
    """Subscribes to everything and keeps (topic, payload, retain) in arrival order."""

    def __init__(self, port: int, topic: str = "#", client_id: str = "", **auth) -> None:
        self.messages: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
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
        self.client.publish(topic, payload, qos=1, **kwargs).wait_for_publish(5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
