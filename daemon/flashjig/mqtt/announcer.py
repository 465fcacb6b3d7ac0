"""Home Assistant discovery as it goes out: the payload (flashjig.mqtt.discovery) published
retained, a record of what was announced and where (so a socket taken out of the config,
or a topic that moved, is taken back next time), and the announcement again after Home
Assistant's birth message."""

import json
import random
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from flashjig.config import Config
from flashjig.mqtt import reporter_log as log
from flashjig.mqtt.discovery import Topics, device_config

DISCOVERY_FILE = "mqtt-discovery.json"  # the record, in the state directory
BIRTH_DELAY_S = (0.5, 2.0)  # spread discovery after a Home Assistant restart


class DiscoveryAnnouncer:
    """Announces the station's device; after a birth, ``then`` (the states) follows the
    announcement again."""

    def __init__(
        self,
        config: Config,
        topics: Topics,
        client: mqtt.Client,
        record: Path,
        then: Callable[[], None],
    ) -> None:
        self.config = config
        self.topics = topics
        self.client = client
        self.record = record
        self._then = then
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def publish(self) -> None:
        announced = self._announced()
        previous_topic = announced.get("topic", self.topics.discovery)
        payload = device_config(self.config, self.topics, announced.get("components", {}))
        current = {cid: c["p"] for cid, c in payload["cmps"].items() if len(c) > 1}
        if previous_topic != self.topics.discovery:  # announced elsewhere before: take it back
            self.client.publish(previous_topic, b"", qos=1, retain=True)
        self.client.publish(self.topics.discovery, json.dumps(payload), qos=1, retain=True)
        try:
            self.record.parent.mkdir(parents=True, exist_ok=True)
            record = {"topic": self.topics.discovery, "components": current}
            self.record.write_text(json.dumps(record))
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
            record = json.loads(self.record.read_text())
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

    def birth(self) -> None:
        """Home Assistant came online. One republish for a burst of birth messages (Home
        Assistant restarting, or several instances on one broker): a birth while one is
        pending joins it."""
        with self._lock:
            if self._timer is not None:
                return
            delay = random.uniform(*BIRTH_DELAY_S)
            self._timer = threading.Timer(delay, self._republish)
            # Named in a dump of the daemon's threads, and for the tests to wait on.
            self._timer.name = "mqtt-republish"
            self._timer.daemon = True
            self._timer.start()

    def cancel(self) -> None:
        """No republish from now on (stopping)."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()

    def _republish(self) -> None:
        with self._lock:
            self._timer = None
        log.info("Home Assistant came online: sending discovery and states again")
        self.publish()
        self._then()
