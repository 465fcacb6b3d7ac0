"""The result outbox's thread: one QoS 1 result event per finished attempt (its schema:
flashjig.mqtt.result), taken from the station's ResultOutbox in journal order and marked
there only once the broker has acknowledged it. So a broker that is away, or a daemon
restart, loses nothing and, as far as the journal can tell, sends nothing twice; and
flashing never waits for the broker."""

import json
import threading
import time
from collections.abc import Callable
from functools import partial

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from flashjig.mqtt import reporter_log as log
from flashjig.mqtt.result import result_event
from flashjig.station.outbox import ResultOutbox

ACK_TIMEOUT_S = 5.0


class ResultSender:
    """Publishes the outbox's results while ``connected()``, on its own thread: woken by
    ``wake()`` or once a second, when it also runs ``each_round`` (the reporter's own
    chores)."""

    def __init__(
        self,
        client: mqtt.Client,
        topic: str,
        outbox: ResultOutbox,
        connected: Callable[[], bool],
        each_round: Callable[[], None],
    ) -> None:
        self.client = client
        self.topic = topic
        self.outbox = outbox
        self._connected = connected
        self._each_round = each_round
        self._wake = threading.Event()
        self._stop = threading.Event()
        # Results sent and not yet acknowledged: journal id -> (mid, when sent). paho's
        # MQTTMessageInfo cannot say so for a message sent while the connection was down
        # (it raises), so acknowledgements are taken from on_publish.
        self._pending: dict[int, tuple[int, float]] = {}
        self._acks = threading.Condition()
        self._acked_at: dict[int, float] = {}
        # The rounds begun and ended, for round() to wait on.
        self._rounds = threading.Condition()
        self._rounds_begun = 0
        self._rounds_ended = 0
        self._thread = threading.Thread(target=self._run, name="mqtt-outbox", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def flush(self, timeout: float) -> None:
        """Give the outbox up to ``timeout`` seconds to empty (stopping)."""
        self._wake.set()
        deadline = time.monotonic() + timeout
        while not self.outbox.empty and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout=timeout)

    def round(self, timeout: float) -> bool:
        """Wake the thread and wait until a round of it that began after this call has
        ended: by then it has handed paho whatever it was going to publish (and, connected,
        has had it acknowledged or given up waiting). The tests wait on this, not on the
        one-second tick; False after ``timeout`` seconds."""
        with self._rounds:
            # A round counted from now on runs its body after this line.
            after = self._rounds_begun + 1
        self._wake.set()
        with self._rounds:
            return self._rounds.wait_for(lambda: self._rounds_ended >= after, timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=1.0)
            self._wake.clear()
            with self._rounds:
                self._rounds_begun += 1
            self._each_round()
            while self._connected() and not self._stop.is_set():
                try:
                    moved = self.publish_batch()
                except Exception:  # a journal error: try again on the next wake-up
                    log.exception("publishing results from the journal failed")
                    break
                if not moved:
                    break
            with self._rounds:
                self._rounds_ended += 1
                self._rounds.notify_all()

    def publish_batch(self) -> bool:
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
            info = self.client.publish(self.topic, json.dumps(result_event(row)), qos=1)
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

    def on_publish(
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
