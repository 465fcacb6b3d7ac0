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
from flashjig.flashing.result import Outcome
from flashjig.hardware import host
from flashjig.station.status import SocketState

ORIGIN = {"name": "flashjig", "sw": __version__, "url": "https://github.com/flashjig/flashjig"}
# What a finished attempt's result can be: the event types, and the last result's options.
RESULTS = tuple(outcome.value for outcome in Outcome if outcome is not Outcome.STARTED)
# The station's diagnostic sensors: key, name, fields (from the station state).
DIAGNOSTICS: tuple[tuple[str, str, dict[str, Any]], ...] = (
    (
        "broker",
        "Broker connection",
        {"value_template": "{{ value_json.broker }}", "icon": "mdi:lan-connect"},
    ),
    ("journal", "Journal", {"value_template": "{{ value_json.journal }}", "icon": "mdi:database"}),
    (
        "backlog",
        "Results waiting for the broker",
        {"value_template": "{{ value_json.backlog }}", "unit_of_measurement": "results"},
    ),
    ("version", "Version", {"value_template": "{{ value_json.version }}"}),
    (
        "cpu_temperature",
        "CPU temperature",
        {
            "value_template": "{{ value_json.cpu_temp_c }}",
            "device_class": "temperature",
            "unit_of_measurement": "°C",
            "state_class": "measurement",
        },
    ),
    (
        "disk_free",
        "Free disk",
        {
            "value_template": "{{ value_json.disk_free_mb }}",
            "device_class": "data_size",
            "unit_of_measurement": "MB",
        },
    ),
)


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


def _event_template(*, socket_too: bool = False) -> str:
    """A result, as Home Assistant's event entities take it: event_type, then attributes
    (the station's event says which socket; a socket's own knows)."""
    socket = "'socket': value_json.socket, " if socket_too else ""
    return (
        f"{{{{ {{{socket}'event_type': value_json.result, 'reason': value_json.reason,"
        " 'mac': value_json.mac, 'serial': value_json.serial,"
        " 'duration_s': value_json.duration_s, 'attempt': value_json.attempt} | tojson }}"
    )


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
            icon="mdi:progress-upload",
        )  # no state_class: a progress bar is no long-term statistic
        add(
            f"{s}_last_result",
            "sensor",
            f"{s} last result",
            state_topic=topic,
            value_template="{{ value_json.last_result or 'none' }}",
            device_class="enum",
            options=["none", *RESULTS],
            json_attributes_topic=topic,
            json_attributes_template=(
                "{{ {'reason': value_json.reason, 'mac': value_json.mac,"
                " 'duration_s': value_json.duration_s, 'profile': value_json.profile}"
                " | tojson }}"
            ),
        )
        add(
            f"{s}_last_duration",
            "sensor",
            f"{s} last duration",
            state_topic=topic,
            value_template="{{ value_json.duration_s }}",
            device_class="duration",
            unit_of_measurement="s",
        )
        add(
            f"{s}_last_mac",
            "sensor",
            f"{s} last MAC",
            state_topic=topic,
            value_template="{{ value_json.mac or 'none' }}",
            icon="mdi:identifier",
            entity_category="diagnostic",
        )
        add(
            f"{s}_inserted",
            "binary_sensor",
            f"{s} module inserted",
            state_topic=topic,
            value_template="{{ 'OFF' if value_json.state == 'empty' else 'ON' }}",
            device_class="plug",
        )
        add(
            f"{s}_result",
            "event",
            f"{s} result",
            state_topic=topics.result,
            event_types=list(RESULTS),
            # Every socket's event hears the station's results; an empty rendering (another
            # socket's) is ignored by Home Assistant.
            value_template=f"{{% if value_json.socket == '{s}' %}}{_event_template()}{{% endif %}}",
        )
        if commands:
            add(
                f"{s}_flash",
                "button",
                f"Flash {s}",
                command_topic=topics.flash(s),
                payload_press="PRESS",
                icon="mdi:flash",
                # Greyed out unless a press would flash something: a seated module, not
                # yet flashed (or failed), on a station that is online.
                availability=[
                    {"t": topics.availability},
                    {
                        "t": topic,
                        "val_tpl": "{{ 'online' if value_json.state in ['inserted', 'failed']"
                        " else 'offline' }}",
                    },
                ],
                availability_mode="all",
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
    add(
        "result",
        "event",
        "Result",
        state_topic=topics.result,
        event_types=list(RESULTS),
        value_template=_event_template(socket_too=True),
    )
    for key, name, fields in DIAGNOSTICS:
        add(key, "sensor", name, state_topic=topics.station, entity_category="diagnostic", **fields)
    add(
        "healthy",
        "binary_sensor",
        "Daemon problem",
        state_topic=topics.station,
        value_template="{{ 'OFF' if value_json.healthy else 'ON' }}",
        device_class="problem",
        entity_category="diagnostic",
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
            entity_category="config",
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
            "mdl": f"Espressif flashing station ({len(config.sockets)} sockets)",
            "sw": __version__,
            **_host_info(config),
        },
        "o": ORIGIN,
        "avty": [{"t": topics.availability}],
        "qos": config.mqtt.qos if config.mqtt else 1,
        "cmps": cmps,
    }


def _host_info(config: Config) -> dict[str, Any]:
    """The Pi as Home Assistant's device page shows it: hardware, serial number, its MAC
    (connections), and the area suggested for it; what this machine lacks is left out."""
    info: dict[str, Any] = {}
    if (hardware := host.model()) is not None:
        info["hw"] = hardware
    if (serial := host.serial_number()) is not None:
        info["sn"] = serial
    if (mac := host.mac_address()) is not None:
        info["cns"] = [["mac", mac]]
    if config.mqtt is not None and config.mqtt.area:
        info["sa"] = config.mqtt.area
    return info
