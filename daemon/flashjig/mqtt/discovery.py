"""Home Assistant MQTT discovery for a station, built in one place from the config.

One device per station, published with device discovery
(``<prefix>/device/<station uid>/config``: ``dev``, ``o`` origin, ``cmps`` components).
Unique ids carry the station id, so several stations share a broker and restarts keep
the same entities. ``default_entity_id`` (Home Assistant 2025.10+) replaces the
deprecated ``object_id``. A component that left the config is sent as ``{"p": platform}``,
which is how device discovery removes one entity.
"""

from typing import Any

from flashjig import __version__
from flashjig.config import Config
from flashjig.station.socket import SocketState

ORIGIN = {"name": "flashjig", "sw": __version__, "url": "https://github.com/flashjig/flashjig"}


class Topics:
    """Every topic of one station, under its base topic."""

    def __init__(self, config: Config) -> None:
        station = config.station.id
        mqtt = config.mqtt
        self.base = (mqtt.base_topic if mqtt and mqtt.base_topic else None) or f"flashjig/{station}"
        self.prefix = mqtt.discovery_prefix if mqtt else "homeassistant"
        self.uid = f"flashjig_{station}".replace("-", "_")
        self.availability = f"{self.base}/availability"
        self.station = f"{self.base}/state"
        self.result = f"{self.base}/result"
        self.error = f"{self.base}/error"
        self.commands = f"{self.base}/cmd"
        # The station id as it is ("-" is allowed in a discovery topic, not in an entity id),
        # so that one broker ACL pattern (flashjig-%u) gives each station its own.
        self.discovery = f"{self.prefix}/device/flashjig-{station}/config"
        self.birth = f"{self.prefix}/status"

    def socket(self, name: str) -> str:
        return f"{self.base}/socket/{name}/state"

    def flash(self, socket: str | None = None) -> str:
        return f"{self.commands}/flash" + (f"/{socket}" if socket else "")


def components(config: Config, topics: Topics) -> dict[str, dict[str, Any]]:
    """Component id -> component config, for the current config."""
    uid = topics.uid
    commands = bool(config.mqtt and config.mqtt.commands)
    out: dict[str, dict[str, Any]] = {}

    def add(key: str, platform: str, name: str, **fields: Any) -> None:
        cid = f"{uid}_{key}"
        out[cid] = {
            "p": platform,
            "name": name,
            "unique_id": cid,
            "default_entity_id": f"{platform}.{cid}",
            **fields,
        }

    for socket in config.sockets:
        topic = topics.socket(socket.name)
        s = socket.name
        add(
            f"{s}_state",
            "sensor",
            f"{s} state",
            state_topic=topic,
            value_template="{{ value_json.state }}",
            device_class="enum",
            options=[state.value for state in SocketState],
            icon="mdi:chip",
        )
        add(
            f"{s}_progress",
            "sensor",
            f"{s} progress",
            state_topic=topic,
            value_template="{{ value_json.progress }}",
            unit_of_measurement="%",
            state_class="measurement",
            icon="mdi:progress-upload",
        )
        add(
            f"{s}_last_result",
            "sensor",
            f"{s} last result",
            state_topic=topic,
            value_template="{{ value_json.last_result or 'none' }}",
            json_attributes_topic=topic,
            json_attributes_template=(
                "{{ {'reason': value_json.reason, 'mac': value_json.mac,"
                " 'duration_s': value_json.duration_s, 'profile': value_json.profile}"
                " | tojson }}"
            ),
        )
        add(
            f"{s}_last_mac",
            "sensor",
            f"{s} last MAC",
            state_topic=topic,
            value_template="{{ value_json.mac or 'none' }}",
            icon="mdi:identifier",
        )
        add(
            f"{s}_inserted",
            "binary_sensor",
            f"{s} module inserted",
            state_topic=topic,
            value_template="{{ 'OFF' if value_json.state == 'empty' else 'ON' }}",
            device_class="occupancy",
        )
        if commands:
            add(
                f"{s}_flash",
                "button",
                f"Flash {s}",
                command_topic=topics.flash(s),
                payload_press="PRESS",
                icon="mdi:flash",
            )

    for key, name in (
        ("ok_today", "Flashed today"),
        ("failed_today", "Failed today"),
        ("ok_total", "Flashed in total"),
        ("failed_total", "Failed in total"),
    ):
        add(
            key,
            "sensor",
            name,
            state_topic=topics.station,
            value_template=f"{{{{ value_json.{key} }}}}",
            state_class="total_increasing",
            unit_of_measurement="modules",
        )
    if commands:
        add(
            # Its own id, not the sensor's: Home Assistant keeps an entity per platform, so
            # a component that changed platform under one id would leave the old behind.
            "profile_select",
            "select",
            "Active profile",
            state_topic=topics.station,
            value_template="{{ value_json.profile }}",
            command_topic=f"{topics.commands}/profile",
            options=sorted(config.profiles),
        )
        add(
            "flash_all",
            "button",
            "Flash all",
            command_topic=topics.flash(),
            payload_press="PRESS",
            icon="mdi:flash",
        )
        add(
            "cancel",
            "button",
            "Cancel flashing",
            command_topic=f"{topics.commands}/cancel",
            payload_press="PRESS",
            icon="mdi:cancel",
        )
    else:
        add(
            "profile",
            "sensor",
            "Active profile",
            state_topic=topics.station,
            value_template="{{ value_json.profile }}",
            icon="mdi:file-cog",
        )
    return out


def device_config(
    config: Config, topics: Topics, previous: dict[str, str] | None = None
) -> dict[str, Any]:
    """The discovery payload; ``previous`` (component id -> platform, as last published)
    names components to remove, each with the platform it had. A component id never
    changes platform (components() gives each platform its own ids)."""
    cmps: dict[str, dict[str, Any]] = {
        cid: {"p": platform} for cid, platform in (previous or {}).items()
    }
    cmps.update(components(config, topics))
    return {
        "dev": {
            "ids": [topics.uid],
            "name": f"flashjig {config.station.id}",
            "mf": "flashjig",
            "mdl": f"ESP8266 flashing station ({len(config.sockets)} sockets)",
            "sw": __version__,
        },
        "o": ORIGIN,
        "avty": [{"t": topics.availability}],
        "qos": config.mqtt.qos if config.mqtt else 1,
        "cmps": cmps,
    }
