"""Load and validate the station config (YAML).

Validation walks the composed YAML node tree (not plain Python objects) so that every error can
point the operator at the file, line and field to fix: the station is headless, and a message
like "sockets[2].gpio0" is the only debugging aid they get before the daemon refuses to start.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from yaml.constructor import SafeConstructor

__all__ = [
    "BAUD_RATES",
    "TRIGGERS",
    "PI_MODELS",
    "BUSES",
    "MqttConfig",
    "TlsConfig",
    "FLASH_FREQS",
    "FLASH_MODES",
    "FLASH_SIZES",
    "SECTOR_SIZE",
    "Config",
    "ConfigError",
    "ImageSpec",
    "LedPins",
    "Profile",
    "SocketConfig",
    "StationConfig",
    "load_config",
    "parse_config",
]

SECTOR_SIZE = 0x1000  # ESP8266 flash erase sector: images must start on one
BAUD_RATES = (115200, 230400, 460800, 921600, 1500000, 2000000)
FLASH_MODES = ("keep", "qio", "qout", "dio", "dout")
FLASH_FREQS = ("keep", "40m", "26m", "20m", "80m")
FLASH_SIZES = ("keep", "detect", "512KB", "1MB", "2MB", "4MB")
TRIGGERS = ("button", "insert", "both")
PI_MODELS = ("3B+", "4", "5", "Zero2W")
ERASE_POLICIES = ("written", "all")
IDENTITY_MODES = ("record", "placeholder", "folder")
BUSES = ("i2c1", "spi0", "spi1", "uart0", "uart2", "uart3", "uart4", "uart5")
_FLASH_BYTES = {"512KB": 512 * 1024, "1MB": 1 << 20, "2MB": 2 << 20, "4MB": 4 << 20}
_MAX_BCM = 27

_NAME_RE = re.compile(r"[a-z0-9_-]{1,32}")
# Profile names end up in field paths and CLI arguments: no dots or spaces.
_PROFILE_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_PIN_RE = re.compile(r"(GPIO|BCM|BOARD|J8:)?(\d+)", re.IGNORECASE)

# Raspberry Pi 40-pin header (J8): physical pin -> BCM number, or the rail it carries.
J8_HEADER: dict[int, int | str] = {
    1: "3V3", 2: "5V", 3: 2, 4: "5V", 5: 3, 6: "GND", 7: 4, 8: 14, 9: "GND", 10: 15,
    11: 17, 12: 18, 13: 27, 14: "GND", 15: 22, 16: 23, 17: "3V3", 18: 24, 19: 10, 20: "GND",
    21: 9, 22: 25, 23: 11, 24: 8, 25: "GND", 26: 7, 27: 0, 28: 1, 29: 5, 30: "GND",
    31: 6, 32: 12, 33: 13, 34: "GND", 35: 19, 36: 16, 37: 26, 38: 20, 39: "GND", 40: 21,
}  # fmt: skip

_TAG = "tag:yaml.org,2002:"
_KINDS = {
    "str": "string", "int": "integer", "float": "float", "bool": "boolean", "null": "null",
    "map": "mapping", "seq": "list", "timestamp": "timestamp", "binary": "binary",
}  # fmt: skip
# Stateless for the scalar methods used here, so one shared instance is fine.
_CONSTRUCTOR = SafeConstructor()


class ConfigError(Exception):
    """One-line message: '<file>:<line>: <field path>: <reason>'.

    The parts are also kept as attributes (file, line, field, reason) so callers can report
    them in a structured way; line/field are None when the problem has no node (unreadable file,
    YAML syntax error has no field).
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(message)
        self.file = file
        self.line = line
        self.field = field
        self.reason = reason if reason is not None else message


@dataclass(frozen=True)
class ImageSpec:
    """One binary to write; offset is sector aligned so esptool never erases a neighbour."""

    offset: int
    path: Path
    sha256: str | None = None


@dataclass(frozen=True)
class Identity:
    """How each unit comes out different. ``record``: a unit record (JSON) written at
    ``offset``; ``placeholder``: ``placeholder`` in an image replaced by the unit's client
    id; ``folder``: per-unit images from ``folder`` taken in order, each used once, in
    place of the image at the profile's first offset."""

    mode: str
    template: str = "node-{serial:03d}"
    offset: int | None = None
    placeholder: str | None = None
    folder: Path | None = None


@dataclass(frozen=True)
class BootCheck:
    """After writing: strap into the firmware and wait for ``pattern`` (a regular
    expression) at the firmware's baud."""

    pattern: str
    timeout: float = 5.0
    baud: int | None = None  # None: the baud the firmware announces, else 115200


@dataclass(frozen=True)
class BurnIn:
    """Keep a flashed module running and watch it: a reset or a crash fails the unit."""

    seconds: float
    fail_patterns: tuple[str, ...] = (
        r"ets Jan  8 2013,rst cause",  # the ROM's banner: the module reset
        r"Exception \(\d+\)",  # an SDK exception dump
        r"wdt reset",
        r"Fatal exception",
    )


@dataclass(frozen=True)
class Profile:
    """What to flash and how: the esptool settings shared by every socket."""

    name: str
    images: tuple[ImageSpec, ...]
    baud: int = 921600
    flash_mode: str = "keep"
    flash_freq: str = "keep"
    flash_size: str = "keep"
    verify: bool = True
    erase: str = "written"  # written: the sectors the images cover; all: the whole chip first
    rf_init: str = "none"  # auto: SDK RF init data and blank system sectors for the size
    min_flash_size: str | None = None  # refuse modules with less flash than this
    backup: str = "none"  # before_write: read the whole flash into the state directory
    identity: Identity | None = None
    boot_check: BootCheck | None = None
    burn_in: BurnIn | None = None


@dataclass(frozen=True)
class LedPins:
    """Per-socket status LED; any colour may be absent on a cheaper build."""

    red: str | None = None
    green: str | None = None
    blue: str | None = None


@dataclass(frozen=True)
class SocketConfig:
    """One ESP-01S socket: its USB-serial adapter and the GPIOs wired to it."""

    name: str
    serial: str
    gpio0: str
    en: str
    detect: str | None = None
    led: LedPins = LedPins()
    power: str | None = None  # gate of the socket's power switch (P-MOSFET: low = on)
    power_active_low: bool = True


@dataclass(frozen=True)
class StationConfig:
    """Station-wide settings that are not tied to a socket."""

    id: str = "flashjig"
    button: str | None = None
    hold_time: float = 3.0  # a press this long cancels running flashes
    trigger: str = "button"  # button | insert | both
    settle_time: float = 1.0  # insert trigger: wait this long after a module is seated
    debounce: float = 0.05  # a detect switch must hold its level this long
    retries: int = 2  # attempts after the first
    fallback_baud: int = 115200  # retries use this baud
    status_led: str | None = None  # "daemon alive"
    pi_model: str = "4"  # decides which pins the buses below take
    buses: tuple[str, ...] = ()  # I2C/SPI/UART buses in use: their pins are reserved
    serial_range: tuple[int, int] = (1, 999_999)  # unit serials this station may give out
    recovery_profile: str | None = None  # a long press with nothing running flashes this


@dataclass(frozen=True)
class TlsConfig:
    """TLS to the broker; ``insecure`` (no hostname check) only when asked for by name."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    insecure: bool = False


@dataclass(frozen=True)
class MqttConfig:
    """The broker the station reports to. The password is read from a file, never the YAML."""

    host: str
    port: int = 1883
    client_id: str | None = None  # default flashjig-<station id>
    username: str | None = None
    password_file: Path | None = None
    tls: TlsConfig | None = None
    keepalive: int = 60
    base_topic: str | None = None  # default flashjig/<station id>
    discovery_prefix: str = "homeassistant"
    qos: int = 1
    commands: bool = False  # accept flash/cancel/profile commands from the broker


@dataclass(frozen=True)
class Config:
    """The whole validated config; path is the absolute path of the file it came from."""

    path: Path
    station: StationConfig
    profiles: dict[str, Profile]
    active_profile: str
    sockets: tuple[SocketConfig, ...]
    mqtt: MqttConfig | None = None

    def socket(self, name: str) -> SocketConfig:
        """Look a socket up by name; KeyError lists the known names to make typos obvious."""
        for sock in self.sockets:
            if sock.name == name:
                return sock
        known = ", ".join(s.name for s in self.sockets)
        raise KeyError(f"unknown socket {name!r} (known sockets: {known})")

    @property
    def profile(self) -> Profile:
        """The active profile."""
        return self.profiles[self.active_profile]


def load_config(path: str | os.PathLike[str], *, check_files: bool = True) -> Config:
    """Read and validate a config file; every problem surfaces as a ConfigError."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as exc:
        reason = f"cannot read config file: {exc.strerror or exc}"
        raise ConfigError(f"{p}: {reason}", file=str(p), reason=reason) from exc
    except UnicodeDecodeError as exc:
        reason = f"config file is not UTF-8 text ({exc.reason} at byte {exc.start})"
        raise ConfigError(f"{p}: {reason}", file=str(p), reason=reason) from exc
    return parse_config(text, p, check_files=check_files)


def parse_config(text: str, path: Path, *, check_files: bool = True) -> Config:
    """Validate config text; path names the file in errors and anchors relative image paths."""
    path = Path(path)
    file = str(path)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem, context = exc.problem, exc.context
        if problem and context and problem.startswith("but "):
            # ComposerError reads "expected a single document ..., but found another document".
            reason = f"{context}, {problem}"
        elif problem and context and exc.context_mark is not None:
            reason = f"{problem} ({context} started on line {exc.context_mark.line + 1})"
        else:
            reason = problem or context or str(exc)
        raise _error(file, line, None, f"YAML syntax error: {reason}") from exc
    except yaml.reader.ReaderError as exc:  # a control character; has a position, not a mark
        line = text.count("\n", 0, exc.position) + 1
        char = exc.character if isinstance(exc.character, int) else ord(exc.character)
        reason = f"YAML syntax error: unacceptable character #x{char:04x}: {exc.reason}"
        raise _error(file, line, None, reason) from exc
    if root is None:
        raise _error(file, 1, None, "config is empty")
    return _Parser(path, check_files).config(root)


def _error(file: str, line: int | None, field: str | None, reason: str) -> ConfigError:
    """Build the one-line ConfigError; newlines would break log lines and systemd status."""
    reason = " ".join(reason.split())
    where = file if line is None else f"{file}:{line}"
    message = f"{where}: {field}: {reason}" if field else f"{where}: {reason}"
    return ConfigError(message, file=file, line=line, field=field, reason=reason)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _is(node: yaml.Node, kind: str) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == _TAG + kind


def _describe(node: yaml.Node) -> str:
    """Say what the operator actually wrote, e.g. "boolean 'yes'" (the classic YAML surprise)."""
    kind = _KINDS.get(node.tag.removeprefix(_TAG), node.tag)
    if isinstance(node, yaml.ScalarNode) and node.tag != _TAG + "null":
        return f"{kind} {node.value!r}"
    return kind


def _suggest(word: str, choices: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


class _Parser:
    """Walks the node tree once, turning nodes into dataclasses or raising located errors."""

    def __init__(self, path: Path, check_files: bool) -> None:
        self.file = str(path)
        self.path = path.absolute()
        self.base = self.path.parent
        self.check_files = check_files
        self.pins: list[tuple[int, int, str, str]] = []  # (line, index, pin, field path)
        self.recovery_node: yaml.Node | None = None

    def error(self, node: yaml.Node, field: str, reason: str) -> ConfigError:
        return _error(self.file, node.start_mark.line + 1, field or "(root)", reason)

    # -- generic node helpers ------------------------------------------------------------

    def entries(self, node: yaml.Node, path: str, what: str = "a mapping") -> dict[str, yaml.Node]:
        """Key -> value node of a mapping with string keys and no duplicates."""
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, path, f"expected {what}, got {_describe(node)}")
        out: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _TAG + "merge":
                raise self.error(key_node, path, "YAML merge keys ('<<') are not supported")
            if not _is(key_node, "str"):
                raise self.error(key_node, path, f"keys must be strings, got {_describe(key_node)}")
            key = key_node.value
            if key in out:
                raise self.error(key_node, _join(path, key), f"duplicate key '{key}'")
            out[key] = value_node
        return out

    def mapping(
        self,
        node: yaml.Node,
        path: str,
        required: tuple[str, ...] = (),
        optional: tuple[str, ...] = (),
    ) -> dict[str, yaml.Node]:
        """A mapping with a fixed set of keys: unknown keys and missing required keys are errors."""
        out = self.entries(node, path)
        allowed = required + optional
        for key_node, _ in node.value:
            if key_node.value not in allowed:
                key = key_node.value
                reason = f"unknown key '{key}'{_suggest(key, allowed)}"
                raise self.error(key_node, _join(path, key), reason)
        for key in required:
            if key not in out:
                raise self.error(node, _join(path, key), f"missing required key '{key}'")
        return out

    @staticmethod
    def present(m: dict[str, yaml.Node], key: str) -> yaml.Node | None:
        """The value node of an optional key, None if it is absent or null."""
        node = m.get(key)
        return None if node is None or _is(node, "null") else node

    def string(self, node: yaml.Node, path: str) -> str:
        if not _is(node, "str"):
            raise self.error(node, path, f"expected a string, got {_describe(node)}")
        return node.value

    def integer(self, node: yaml.Node, path: str) -> int:
        # bool is its own YAML tag, so `yes`/`true` are rejected here rather than becoming 1.
        if not _is(node, "int"):
            raise self.error(node, path, f"expected an integer, got {_describe(node)}")
        try:
            return _CONSTRUCTOR.construct_yaml_int(node)
        except ValueError:
            raise self.error(node, path, f"invalid integer {node.value!r}") from None

    def boolean(self, node: yaml.Node, path: str) -> bool:
        if not _is(node, "bool"):
            raise self.error(node, path, f"expected a boolean (true/false), got {_describe(node)}")
        return _CONSTRUCTOR.construct_yaml_bool(node)

    def choice(self, node: yaml.Node, path: str, choices: tuple[str, ...]) -> str:
        """One of a fixed set of strings, matched case-insensitively, returned in canonical case."""
        value = self.string(node, path)
        for canonical in choices:
            if value.lower() == canonical.lower():
                return canonical
        field = path.rsplit(".", 1)[-1]
        expected = ", ".join(choices)
        reason = f"invalid {field} {value!r}{_suggest(value, choices)}; expected one of {expected}"
        raise self.error(node, path, reason)

    def name(self, node: yaml.Node, path: str, what: str) -> str:
        value = self.string(node, path)
        if not _NAME_RE.fullmatch(value):
            raise self.error(node, path, f"invalid {what} {value!r}: use 1-32 of [a-z0-9_-]")
        return value

    def pin(self, node: yaml.Node, path: str) -> str:
        """Normalise GPIO17 / gpio17 / BCM17 / 17 / BOARD11 / J8:11 to gpiozero's 'GPIO17'."""
        if _is(node, "int"):
            prefix, number = "", self.integer(node, path)
        elif _is(node, "str"):
            match = _PIN_RE.fullmatch(node.value.strip())
            if match is None:
                reason = f"invalid pin {node.value!r}: use GPIO<n>, BCM<n>, BOARD<n> or a number"
                raise self.error(node, path, reason)
            prefix, number = (match.group(1) or "").upper(), int(match.group(2))
        else:
            reason = f"expected a pin like GPIO17 or a BCM number, got {_describe(node)}"
            raise self.error(node, path, reason)
        if prefix in ("BOARD", "J8:"):
            header = J8_HEADER.get(number)
            if header is None:
                raise self.error(node, path, f"{prefix}{number} is not on the 40-pin header")
            if isinstance(header, str):
                raise self.error(node, path, f"{prefix}{number} is a {header} pin, not a GPIO")
            number = header
        elif not 0 <= number <= _MAX_BCM:
            reason = f"GPIO{number} is outside the usable BCM range 0..{_MAX_BCM}"
            raise self.error(node, path, reason)
        pin = f"GPIO{number}"
        self.pins.append((node.start_mark.line + 1, node.start_mark.index, pin, path))
        return pin

    def offset(self, node: yaml.Node, path: str) -> int:
        """Flash offset: a YAML int (0x1000 is an int in YAML 1.1) or a string like '0x10000'."""
        if _is(node, "str"):
            try:
                value = int(node.value.strip(), 0)
            except ValueError:
                reason = f"expected an integer offset like 0x10000, got {node.value!r}"
                raise self.error(node, path, reason) from None
        elif _is(node, "int"):
            value = self.integer(node, path)
        else:
            raise self.error(node, path, f"expected an integer offset, got {_describe(node)}")
        if value < 0:
            raise self.error(node, path, f"offset must not be negative, got {value}")
        if value % SECTOR_SIZE:
            raise self.error(node, path, f"offset {value:#x} is not aligned to a 4 KiB sector")
        return value

    # -- sections ------------------------------------------------------------------------

    def config(self, root: yaml.Node) -> Config:
        m = self.mapping(
            root,
            "",
            required=("profiles", "sockets"),
            optional=("station", "active_profile", "mqtt"),
        )
        station_node = self.present(m, "station")
        station = StationConfig() if station_node is None else self.station(station_node)
        profiles = self.profiles(m["profiles"])
        active = self.active_profile(root, self.present(m, "active_profile"), profiles)
        if station.recovery_profile is not None and station.recovery_profile not in profiles:
            known = ", ".join(profiles)
            reason = f"no profile {station.recovery_profile!r} (profiles: {known})"
            raise self.error(self.recovery_node, "station.recovery_profile", reason)
        sockets = self.sockets(m["sockets"])
        self.check_pin_reuse()
        mqtt_node = self.present(m, "mqtt")
        mqtt = None if mqtt_node is None else self.mqtt(mqtt_node)
        return Config(self.path, station, profiles, active, sockets, mqtt)

    def runtime_file(self, node: yaml.Node, path: str) -> Path:
        """A file the station reads at run time (secrets, certificates): it must exist."""
        value = self.base / self.string(node, path)
        if self.check_files and not value.is_file():
            raise self.error(node, path, f"file not found: {value}")
        return value

    def mqtt(self, node: yaml.Node) -> MqttConfig:
        m = self.mapping(
            node,
            "mqtt",
            required=("host",),
            optional=(
                "port",
                "client_id",
                "username",
                "password_file",
                "tls",
                "keepalive",
                "base_topic",
                "discovery_prefix",
                "qos",
                "commands",
            ),
        )
        kwargs: dict[str, object] = {"host": self.string(m["host"], "mqtt.host")}
        for key, low, high in (("port", 1, 65535), ("keepalive", 5, 3600), ("qos", 0, 2)):
            if (n := self.present(m, key)) is not None:
                value = self.integer(n, f"mqtt.{key}")
                if not low <= value <= high:
                    raise self.error(n, f"mqtt.{key}", f"must be between {low} and {high}")
                kwargs[key] = value
        for key in ("client_id", "username", "base_topic", "discovery_prefix"):
            if (n := self.present(m, key)) is not None:
                value = self.string(n, f"mqtt.{key}")
                if key in ("base_topic", "discovery_prefix") and (
                    not value or any(c in value for c in "#+") or value.endswith("/")
                ):
                    reason = "a topic without wildcards (# +) or a trailing /"
                    raise self.error(n, f"mqtt.{key}", f"expected {reason}, got {value!r}")
                kwargs[key] = value
        if (n := self.present(m, "password_file")) is not None:
            kwargs["password_file"] = self.runtime_file(n, "mqtt.password_file")
        if (n := self.present(m, "commands")) is not None:
            kwargs["commands"] = self.boolean(n, "mqtt.commands")
        if (n := self.present(m, "tls")) is not None:
            kwargs["tls"] = self.tls(n)
        if "password_file" in kwargs and "username" not in kwargs:
            raise self.error(node, "mqtt.username", "password_file needs a username")
        return MqttConfig(**kwargs)  # type: ignore[arg-type]

    def tls(self, node: yaml.Node) -> TlsConfig:
        m = self.mapping(
            node, "mqtt.tls", optional=("ca_file", "cert_file", "key_file", "insecure")
        )
        kwargs: dict[str, object] = {}
        for key in ("ca_file", "cert_file", "key_file"):
            if (n := self.present(m, key)) is not None:
                kwargs[key] = self.runtime_file(n, f"mqtt.tls.{key}")
        if (n := self.present(m, "insecure")) is not None:
            kwargs["insecure"] = self.boolean(n, "mqtt.tls.insecure")
        if ("cert_file" in kwargs) != ("key_file" in kwargs):
            raise self.error(node, "mqtt.tls", "cert_file and key_file go together")
        return TlsConfig(**kwargs)  # type: ignore[arg-type]

    def seconds(self, node: yaml.Node, path: str, maximum: float = 3600) -> float:
        if not (_is(node, "int") or _is(node, "float")):
            raise self.error(node, path, f"expected a number of seconds, got {_describe(node)}")
        value = float(node.value)
        if not 0 <= value <= maximum:
            raise self.error(
                node, path, f"must be between 0 and {maximum:g} seconds, got {value:g}"
            )
        return value

    def station(self, node: yaml.Node) -> StationConfig:
        m = self.mapping(
            node,
            "station",
            optional=(
                "id",
                "button",
                "hold_time",
                "trigger",
                "settle_time",
                "debounce",
                "retries",
                "fallback_baud",
                "status_led",
                "pi_model",
                "buses",
                "serial_range",
                "recovery_profile",
            ),
        )
        kwargs: dict[str, object] = {}
        if (n := self.present(m, "id")) is not None:
            kwargs["id"] = self.name(n, "station.id", "station id")
        for key in ("button", "status_led"):
            if (n := self.present(m, key)) is not None:
                kwargs[key] = self.pin(n, f"station.{key}")
        for key in ("hold_time", "settle_time", "debounce"):
            if (n := self.present(m, key)) is not None:
                kwargs[key] = self.seconds(n, f"station.{key}")
        if (n := self.present(m, "trigger")) is not None:
            kwargs["trigger"] = self.choice(n, "station.trigger", TRIGGERS)
        if (n := self.present(m, "recovery_profile")) is not None:
            kwargs["recovery_profile"] = self.string(n, "station.recovery_profile")
            self.recovery_node = n
        if (n := self.present(m, "serial_range")) is not None:
            kwargs["serial_range"] = self.serial_range(n, "station.serial_range")
        if (n := self.present(m, "pi_model")) is not None:
            kwargs["pi_model"] = self.choice(n, "station.pi_model", PI_MODELS)
        if (n := self.present(m, "buses")) is not None:
            if not isinstance(n, yaml.SequenceNode):
                raise self.error(n, "station.buses", f"expected a list, got {_describe(n)}")
            kwargs["buses"] = tuple(
                self.choice(item, f"station.buses[{i}]", BUSES) for i, item in enumerate(n.value)
            )
        if (n := self.present(m, "retries")) is not None:
            kwargs["retries"] = self.integer(n, "station.retries")
            if not 0 <= kwargs["retries"] <= 10:
                raise self.error(n, "station.retries", "must be between 0 and 10")
        if (n := self.present(m, "fallback_baud")) is not None:
            kwargs["fallback_baud"] = self.integer(n, "station.fallback_baud")
            if kwargs["fallback_baud"] not in BAUD_RATES:
                expected = ", ".join(map(str, BAUD_RATES))
                raise self.error(n, "station.fallback_baud", f"expected one of {expected}")
        station = StationConfig(**kwargs)
        if station.trigger != "insert" and station.button is None:
            reason = f"trigger '{station.trigger}' needs a button pin (station.button)"
            raise self.error(node, "station.trigger", reason)
        return station

    def profiles(self, node: yaml.Node) -> dict[str, Profile]:
        m = self.entries(node, "profiles", "a mapping of profile name to profile")
        if not m:
            raise self.error(node, "profiles", "at least one profile is required")
        out: dict[str, Profile] = {}
        for key_node, value_node in node.value:
            name = key_node.value
            path = f"profiles.{name}"
            if not _PROFILE_RE.fullmatch(name):
                reason = f"invalid profile name {name!r}: use 1-64 of [A-Za-z0-9_-]"
                raise self.error(key_node, path, reason)
            out[name] = self.profile(name, value_node, path)
        return out

    def active_profile(
        self, root: yaml.Node, node: yaml.Node | None, profiles: dict[str, Profile]
    ) -> str:
        names = list(profiles)
        if node is None:
            if len(names) == 1:
                return names[0]
            reason = f"required when there is more than one profile ({', '.join(names)})"
            raise self.error(root, "active_profile", reason)
        value = self.string(node, "active_profile")
        if value not in profiles:
            known = ", ".join(names)
            reason = f"unknown profile {value!r}{_suggest(value, names)}; profiles: {known}"
            raise self.error(node, "active_profile", reason)
        return value

    def profile(self, name: str, node: yaml.Node, path: str) -> Profile:
        m = self.mapping(
            node,
            path,
            required=("images",),
            optional=(
                "baud",
                "flash_mode",
                "flash_freq",
                "flash_size",
                "verify",
                "erase",
                "rf_init",
                "min_flash_size",
                "backup",
                "identity",
                "boot_check",
                "burn_in",
            ),
        )
        kwargs: dict[str, object] = {}
        if (n := self.present(m, "baud")) is not None:
            baud = self.integer(n, f"{path}.baud")
            if baud not in BAUD_RATES:
                rates = ", ".join(str(b) for b in BAUD_RATES)
                raise self.error(n, f"{path}.baud", f"unsupported baud {baud}; use one of {rates}")
            kwargs["baud"] = baud
        for key, choices in (
            ("flash_mode", FLASH_MODES),
            ("flash_freq", FLASH_FREQS),
            ("flash_size", FLASH_SIZES),
        ):
            if (n := self.present(m, key)) is not None:
                kwargs[key] = self.choice(n, f"{path}.{key}", choices)
        if (n := self.present(m, "verify")) is not None:
            kwargs["verify"] = self.boolean(n, f"{path}.verify")
        for key, choices in (
            ("erase", ERASE_POLICIES),
            ("rf_init", ("none", "auto")),
            ("backup", ("none", "before_write")),
            ("min_flash_size", tuple(_FLASH_BYTES)),
        ):
            if (n := self.present(m, key)) is not None:
                kwargs[key] = self.choice(n, f"{path}.{key}", choices)
        if (n := self.present(m, "identity")) is not None:
            kwargs["identity"] = self.identity(n, f"{path}.identity")
        if (n := self.present(m, "boot_check")) is not None:
            kwargs["boot_check"] = self.boot_check(n, f"{path}.boot_check")
        if (n := self.present(m, "burn_in")) is not None:
            kwargs["burn_in"] = self.burn_in(n, f"{path}.burn_in")
        flash_size = str(kwargs.get("flash_size", "keep"))
        images = self.images(m["images"], f"{path}.images", flash_size)
        return Profile(name=name, images=images, **kwargs)  # type: ignore[arg-type]

    def identity(self, node: yaml.Node, path: str) -> Identity:
        m = self.mapping(
            node,
            path,
            required=("mode",),
            optional=("template", "offset", "placeholder", "folder"),
        )
        mode = self.choice(m["mode"], f"{path}.mode", IDENTITY_MODES)
        kwargs: dict[str, object] = {"mode": mode}
        if (n := self.present(m, "template")) is not None:
            template = self.string(n, f"{path}.template")
            try:
                template.format(serial=1, mac="5ccf7f000000")
            except (KeyError, IndexError, ValueError) as e:
                reason = f"template {template!r} does not format: {e}; use {{serial}} or {{mac}}"
                raise self.error(n, f"{path}.template", reason) from None
            kwargs["template"] = template
        if (n := self.present(m, "offset")) is not None:
            kwargs["offset"] = self.offset(n, f"{path}.offset")
        if (n := self.present(m, "placeholder")) is not None:
            kwargs["placeholder"] = self.string(n, f"{path}.placeholder")
        if (n := self.present(m, "folder")) is not None:
            folder = self.base / self.string(n, f"{path}.folder")
            if self.check_files and not folder.is_dir():
                raise self.error(n, f"{path}.folder", f"folder not found: {folder}")
            kwargs["folder"] = folder
        needs = {"record": "offset", "placeholder": "placeholder", "folder": "folder"}[mode]
        if needs not in kwargs:
            raise self.error(node, f"{path}.{needs}", f"identity mode '{mode}' needs {needs}")
        return Identity(**kwargs)  # type: ignore[arg-type]

    def boot_check(self, node: yaml.Node, path: str) -> BootCheck:
        m = self.mapping(node, path, required=("pattern",), optional=("timeout", "baud"))
        pattern = self.regex(m["pattern"], f"{path}.pattern")
        kwargs: dict[str, object] = {"pattern": pattern}
        if (n := self.present(m, "timeout")) is not None:
            kwargs["timeout"] = self.seconds(n, f"{path}.timeout", maximum=300)
        if (n := self.present(m, "baud")) is not None:
            kwargs["baud"] = self.integer(n, f"{path}.baud")
        return BootCheck(**kwargs)  # type: ignore[arg-type]

    def burn_in(self, node: yaml.Node, path: str) -> BurnIn:
        m = self.mapping(node, path, required=("seconds",), optional=("fail_patterns",))
        kwargs: dict[str, object] = {
            "seconds": self.seconds(m["seconds"], f"{path}.seconds", maximum=24 * 3600)
        }
        if (n := self.present(m, "fail_patterns")) is not None:
            if not isinstance(n, yaml.SequenceNode):
                raise self.error(n, f"{path}.fail_patterns", "expected a list of patterns")
            kwargs["fail_patterns"] = tuple(
                self.regex(item, f"{path}.fail_patterns[{i}]") for i, item in enumerate(n.value)
            )
        return BurnIn(**kwargs)  # type: ignore[arg-type]

    def serial_range(self, node: yaml.Node, path: str) -> tuple[int, int]:
        if not isinstance(node, yaml.SequenceNode) or len(node.value) != 2:
            raise self.error(node, path, "expected [first, last], e.g. [1, 500]")
        first = self.integer(node.value[0], f"{path}[0]")
        last = self.integer(node.value[1], f"{path}[1]")
        if not 0 <= first <= last:
            raise self.error(node, path, f"expected 0 <= first <= last, got [{first}, {last}]")
        return first, last

    def regex(self, node: yaml.Node, path: str) -> str:
        value = self.string(node, path)
        try:
            re.compile(value)
        except re.error as e:
            raise self.error(node, path, f"not a regular expression: {e}") from None
        return value

    def images(self, node: yaml.Node, path: str, flash_size: str) -> tuple[ImageSpec, ...]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.error(node, path, f"expected a list of images, got {_describe(node)}")
        if not node.value:
            raise self.error(node, path, "at least one image is required")
        parsed = [self.image(n, f"{path}[{i}]") for i, n in enumerate(node.value)]
        capacity = _FLASH_BYTES.get(flash_size)
        for j, (spec, size) in enumerate(parsed):
            here = f"{path}[{j}]"
            end = spec.offset + (size or 0)
            if capacity is not None and (spec.offset >= capacity or end > capacity):
                reason = f"image {_span(spec.offset, size)} does not fit in {flash_size} of flash"
                raise self.error(node.value[j], here, reason)
            for i in range(j):
                other, other_size = parsed[i]
                if _overlaps(other.offset, other_size, spec.offset, size):
                    reason = (
                        f"image {_span(spec.offset, size)} overlaps images[{i}] "
                        f"{_span(other.offset, other_size)} ({other.path.name})"
                    )
                    raise self.error(node.value[j], here, reason)
        return tuple(spec for spec, _ in parsed)

    def image(self, node: yaml.Node, path: str) -> tuple[ImageSpec, int | None]:
        """One image plus its file size (None if the file is not there to measure)."""
        m = self.mapping(node, path, required=("offset", "file"), optional=("sha256",))
        offset = self.offset(m["offset"], f"{path}.offset")
        file_node = m["file"]
        raw = self.string(file_node, f"{path}.file")
        if not raw.strip():
            raise self.error(file_node, f"{path}.file", "image file name is empty")
        # normpath, not resolve(): keep symlinks such as firmware/current.bin as written.
        image_path = Path(os.path.normpath(self.base / Path(raw).expanduser()))
        size = image_path.stat().st_size if image_path.is_file() else None
        if self.check_files:
            if not image_path.exists():
                raise self.error(file_node, f"{path}.file", f"image file not found: {image_path}")
            if size is None:
                reason = f"image file is not a regular file: {image_path}"
                raise self.error(file_node, f"{path}.file", reason)
            if size == 0:
                raise self.error(file_node, f"{path}.file", f"image file is empty: {image_path}")
        sha256 = None
        if (n := self.present(m, "sha256")) is not None:
            digest = self.string(n, f"{path}.sha256").strip().lower()
            if not _SHA256_RE.fullmatch(digest):
                reason = f"sha256 must be 64 hex characters, got {n.value!r}"
                raise self.error(n, f"{path}.sha256", reason)
            sha256 = digest
        return ImageSpec(offset=offset, path=image_path, sha256=sha256), size

    def sockets(self, node: yaml.Node) -> tuple[SocketConfig, ...]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.error(node, "sockets", f"expected a list of sockets, got {_describe(node)}")
        if not node.value:
            raise self.error(node, "sockets", "at least one socket is required")
        out: list[SocketConfig] = []
        names: dict[str, str] = {}
        serials: dict[str, str] = {}
        for i, item in enumerate(node.value):
            path = f"sockets[{i}]"
            m = self.mapping(
                item,
                path,
                required=("name", "serial", "gpio0", "en"),
                optional=("detect", "led", "power", "power_active_low"),
            )
            name = self.name(m["name"], f"{path}.name", "socket name")
            if name in names:
                reason = f"duplicate socket name {name!r} (also {names[name]}.name)"
                raise self.error(m["name"], f"{path}.name", reason)
            names[name] = path
            serial = self.serial(m["serial"], f"{path}.serial")
            if serial in serials:
                reason = f"serial device {serial} is also used by {serials[serial]}"
                raise self.error(m["serial"], f"{path}.serial", reason)
            serials[serial] = path
            gpio0 = self.pin(m["gpio0"], f"{path}.gpio0")
            en = self.pin(m["en"], f"{path}.en")
            detect_node = self.present(m, "detect")
            detect = None if detect_node is None else self.pin(detect_node, f"{path}.detect")
            led_node = self.present(m, "led")
            led = LedPins() if led_node is None else self.led(led_node, f"{path}.led")
            power_node = self.present(m, "power")
            power = None if power_node is None else self.pin(power_node, f"{path}.power")
            active_low_node = self.present(m, "power_active_low")
            active_low = (
                True
                if active_low_node is None
                else self.boolean(active_low_node, f"{path}.power_active_low")
            )
            out.append(SocketConfig(name, serial, gpio0, en, detect, led, power, active_low))
        return tuple(out)

    def serial(self, node: yaml.Node, path: str) -> str:
        """A device path (/dev/...) or a pyserial URL (rfc2217://, socket://) for emulators."""
        value = self.string(node, path).strip()
        if not (value.startswith("/") or "://" in value):
            reason = f"expected an absolute device path like /dev/serial/by-path/..., got {value!r}"
            raise self.error(node, path, reason)
        return value

    def led(self, node: yaml.Node, path: str) -> LedPins:
        m = self.mapping(node, path, optional=("red", "green", "blue"))
        pins = {
            colour: self.pin(n, f"{path}.{colour}")
            for colour in ("red", "green", "blue")
            if (n := self.present(m, colour)) is not None
        }
        return LedPins(**pins)

    def check_pin_reuse(self) -> None:
        """Two functions on one GPIO would fight each other; report the later use in the file."""
        first: dict[str, str] = {}
        for line, _, pin, path in sorted(self.pins):
            if pin in first:
                reason = f"{pin} is used twice: {first[pin]} and {path}"
                raise _error(self.file, line, path, reason)
            first[pin] = path


def _span(offset: int, size: int | None) -> str:
    return f"at {offset:#x}" if not size else f"at {offset:#x}-{offset + size - 1:#x}"


def _overlaps(a: int, a_size: int | None, b: int, b_size: int | None) -> bool:
    """Overlap of [a, a+a_size) and [b, b+b_size); an unknown size only collides at its start."""
    if a == b:
        return True
    lo, lo_size, hi = (a, a_size, b) if a < b else (b, b_size, a)
    return lo_size is not None and lo + lo_size > hi
