"""Load and validate the station config (YAML): one pass over the node tree, section by
section, then the rules that span sections (a pin used twice, a recovery profile that
exists). Any problem is a ConfigError naming file, line and field."""

from __future__ import annotations

import csv
import os
import re
import ssl
import string
from dataclasses import replace
from pathlib import Path
from typing import Literal, Required, TypedDict

import yaml
from gpiozero.pins.pi import PiBoardInfo

from flashjig.config.flasher_args import FlasherArgsError, read_flasher_args
from flashjig.config.model import (
    BAUD_RATES,
    BUSES,
    CHIPS,
    ERASE_POLICIES,
    FLASH_FREQS,
    FLASH_MODES,
    FLASH_SIZES,
    IDENTITY_MODES,
    LABEL_FIELDS,
    PI_MODELS,
    PRINTER_KINDS,
    SECTOR_SIZE,
    SOCKET_CHIPS,
    TRIGGERS,
    BootCheck,
    BurnIn,
    Config,
    Identity,
    ImageSpec,
    LabelLayout,
    LabelsConfig,
    LedPins,
    MqttConfig,
    PrinterConfig,
    Profile,
    SocketConfig,
    StationConfig,
    TlsConfig,
    WebConfig,
    tcp_address,
)
from flashjig.config.nodes import NodeReader, describe, is_kind, located_error, suggest
from flashjig.config.passwords import read_password
from flashjig.config.pimodel import DEFAULT_PI_MODEL, machine_pi_model
from flashjig.config.sizes import BYTES as SIZE_BYTES
from flashjig.config.sizes import ESP8266_MAPS, header_bytes, size_name
from flashjig.errors import ConfigError, PasswordError

_MAX_BCM = 27
# Whatever flash_size says (detect and keep say nothing), no offset lies beyond this.
MAX_FLASH = max(SIZE_BYTES.values())
# A firmware's console: the ESP8266 UART runs from 300 baud to about 4.5 Mbaud.
MIN_BAUD, MAX_BAUD = 300, 4_500_000
# Serials are SQLite INTEGERs: 64-bit signed.
MAX_SERIAL = 2**63 - 1
# The value encodings of the NVS generator's CSV a per-unit field may take.
NVS_ENCODINGS = (
    *("u8", "i8", "u16", "i16", "u32", "i32", "u64", "i64"),
    *("string", "hex2bin", "base64"),
)
# The chips with a USB-Serial-JTAG port a socket can reach them by.
NATIVE_USB_CHIPS = ("esp32c3", "esp32s3", "auto")
# NVS keys and namespaces: 15 characters at most (and a NUL).
_NVS_KEY_RE = re.compile(r"[A-Za-z0-9_.-]{1,15}")
# A unit record is one 4 KiB sector: its JSON's other fields take a few hundred bytes.
MAX_CLIENT_ID = 3072

_NAME_RE = re.compile(r"[a-z0-9_-]{1,32}")
# A station id names its Home Assistant device and entities, where "-" becomes "_" (their
# ids take no "-"): an id with "_" could be another station's (bench_1 and bench-1).
_STATION_ID_RE = re.compile(r"[a-z0-9-]{1,32}")
# Profile names end up in field paths and CLI arguments: no dots or spaces.
_PROFILE_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SHA256_RE = re.compile(r"[0-9a-f]{64}")
_PIN_RE = re.compile(r"(GPIO|BCM|BOARD|J8:)?(\d+)", re.IGNORECASE)
# BOARD<n> and J8:<n> are positions on the 40-pin header, the same on every model the
# station runs on (3B+, 4, 5, Zero 2 W): gpiozero's board data says which GPIO each is.
_J8 = PiBoardInfo.from_revision(0xC03111).headers["J8"].pins  # a Pi 4 B


# The keyword arguments each section collects for its dataclass: only the keys the file
# sets, the dataclass's defaults for the rest.
class _MqttArgs(TypedDict, total=False):
    host: Required[str]
    port: int
    client_id: str
    username: str
    password_file: Path
    tls: TlsConfig
    keepalive: int
    base_topic: str
    discovery_prefix: str
    qos: int
    commands: bool
    area: str


class _TlsArgs(TypedDict, total=False):
    ca_file: Path
    cert_file: Path
    key_file: Path
    insecure: bool


class _StationArgs(TypedDict, total=False):
    id: str
    button: str
    hold_time: float
    trigger: str
    settle_time: float
    debounce: float
    retries: int
    fallback_baud: int
    status_led: str
    pi_model: str
    buses: tuple[str, ...]
    serial_range: tuple[int, int]
    recovery_profile: str
    labels: LabelsConfig


class _ProfileArgs(TypedDict, total=False):
    baud: int
    flash_mode: str
    flash_freq: str
    flash_size: str
    verify: bool
    erase: str
    rf_init: str
    min_flash_size: str
    backup: str
    identity: Identity
    boot_check: BootCheck
    burn_in: BurnIn


class _IdentityArgs(TypedDict, total=False):
    mode: Required[str]
    template: str
    offset: int
    placeholder: str
    folder: Path
    namespace: str
    nvs_entries: tuple[tuple[str, str, str], ...]


class _BootCheckArgs(TypedDict, total=False):
    pattern: Required[str]
    timeout: float
    baud: int


class _BurnInArgs(TypedDict, total=False):
    seconds: Required[float]
    fail_patterns: tuple[str, ...]


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
        raise located_error(file, line, None, f"YAML syntax error: {reason}") from exc
    except RecursionError:  # a document nested thousands deep: no config is like that
        raise located_error(file, None, None, "YAML nested too deep to be a config") from None
    except yaml.reader.ReaderError as exc:  # a control character; has a position, not a mark
        line = text.count("\n", 0, exc.position) + 1
        char = exc.character if isinstance(exc.character, int) else ord(exc.character)
        reason = f"YAML syntax error: unacceptable character #x{char:04x}: {exc.reason}"
        raise located_error(file, line, None, reason) from exc
    if root is None:
        raise located_error(file, 1, None, "config is empty")
    return _Parser(path, check_files).config(root)


class _Parser(NodeReader):
    """Walks the node tree once, turning nodes into dataclasses or raising located errors."""

    def __init__(self, path: Path, check_files: bool) -> None:
        super().__init__(str(path))
        self.path = path.absolute()
        self.base = self.path.parent
        self.check_files = check_files
        self.pins: list[tuple[int, int, str, str]] = []  # (line, index, pin, field path)
        self.recovery_node: yaml.Node | None = None
        self.serial_last = StationConfig().serial_range[1]  # the largest serial given out
        self.station_id = StationConfig().id  # what each label's QR code carries
        # The last profile's (ESP8266) images, which a unit record must not overlap.
        self.image_spans: list[tuple[int, int | None]] = []

    def name(self, node: yaml.Node, path: str, what: str) -> str:
        value = self.string(node, path)
        if not _NAME_RE.fullmatch(value):
            raise self.error(node, path, f"invalid {what} {value!r}: use 1-32 of [a-z0-9_-]")
        return value

    def pin(self, node: yaml.Node, path: str) -> str:
        """Normalise GPIO17 / gpio17 / BCM17 / 17 / BOARD11 / J8:11 to gpiozero's 'GPIO17'."""
        if is_kind(node, "int"):
            prefix, number = "", self.integer(node, path)
        elif is_kind(node, "str"):
            match = _PIN_RE.fullmatch(node.value.strip())
            if match is None:
                reason = f"invalid pin {node.value!r}: use GPIO<n>, BCM<n>, BOARD<n> or a number"
                raise self.error(node, path, reason)
            prefix, number = (match.group(1) or "").upper(), int(match.group(2))
        else:
            reason = f"expected a pin like GPIO17 or a BCM number, got {describe(node)}"
            raise self.error(node, path, reason)
        if prefix in ("BOARD", "J8:"):
            header = _J8.get(number)
            if header is None:
                raise self.error(node, path, f"{prefix}{number} is not on the 40-pin header")
            if "gpio" not in header.interfaces:
                raise self.error(node, path, f"{prefix}{number} is a {header.name} pin, not a GPIO")
            number = int(header.name.removeprefix("GPIO"))
        elif not 0 <= number <= _MAX_BCM:
            reason = f"GPIO{number} is outside the usable BCM range 0..{_MAX_BCM}"
            raise self.error(node, path, reason)
        pin = f"GPIO{number}"
        self.pins.append((node.start_mark.line + 1, node.start_mark.index, pin, path))
        return pin

    def offset(self, node: yaml.Node, path: str) -> int:
        """Flash offset: a YAML int (0x1000 is an int in YAML 1.1) or a string like '0x10000'."""
        if is_kind(node, "str"):
            try:
                value = int(node.value.strip(), 0)
            except ValueError:
                reason = f"expected an integer offset like 0x10000, got {node.value!r}"
                raise self.error(node, path, reason) from None
        elif is_kind(node, "int"):
            value = self.integer(node, path)
        else:
            raise self.error(node, path, f"expected an integer offset, got {describe(node)}")
        self.check_offset(node, path, value)
        return value

    def check_offset(self, node: yaml.Node, path: str, value: int, entry: str = "") -> None:
        """On a sector, and on the flash whatever flash_size says (detect and keep say
        nothing): no module has more than MAX_FLASH."""
        if value < 0:
            raise self.error(node, path, f"{entry}offset must not be negative, got {value}")
        if value % SECTOR_SIZE:
            reason = f"{entry}offset {value:#x} is not aligned to a 4 KiB sector"
            raise self.error(node, path, reason)
        if value >= MAX_FLASH:
            reason = (
                f"{entry}offset {value:#x} is beyond {size_name(MAX_FLASH)}, the most flash any "
                "supported module has"
            )
            raise self.error(node, path, reason)

    # -- sections ------------------------------------------------------------------------

    def config(self, root: yaml.Node) -> Config:
        m = self.mapping(
            root,
            "",
            required=("profiles", "sockets"),
            optional=("station", "active_profile", "mqtt", "web"),
        )
        station_node = self.present(m, "station")
        station = StationConfig() if station_node is None else self.station(station_node)
        self.serial_last = station.serial_range[1]
        self.station_id = station.id
        profiles = self.profiles(m["profiles"])
        active = self.active_profile(root, self.present(m, "active_profile"), profiles)
        if station.recovery_profile is not None and station.recovery_profile not in profiles:
            known = ", ".join(profiles)
            reason = f"no profile {station.recovery_profile!r} (profiles: {known})"
            # station() set recovery_node along with recovery_profile
            assert self.recovery_node is not None
            raise self.error(self.recovery_node, "station.recovery_profile", reason)
        sockets = self.sockets(m["sockets"], profiles[active])
        self.check_pin_reuse()
        mqtt_node = self.present(m, "mqtt")
        mqtt = None if mqtt_node is None else self.mqtt(mqtt_node)
        web_node = self.present(m, "web")
        web = None if web_node is None else self.web(web_node)
        return Config(self.path, station, profiles, active, sockets, mqtt, web)

    def web(self, node: yaml.Node) -> WebConfig:
        m = self.mapping(node, "web", required=("listen",), optional=("user", "password_file"))
        listen = self.string(m["listen"], "web.listen").strip()
        host, sep, port_text = listen.rpartition(":")
        host = host.strip("[]")
        if not sep or not host or not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            reason = f"expected HOST:PORT such as 127.0.0.1:8080 or 0.0.0.0:8080, got {listen!r}"
            raise self.error(m["listen"], "web.listen", reason)
        web = WebConfig(host=host, port=int(port_text))
        if (n := self.present(m, "user")) is not None:
            web = replace(web, user=self.string(n, "web.user"))
        if (n := self.present(m, "password_file")) is not None:
            web = replace(web, password_file=self.password_file(n, "web.password_file"))
        if not web.loopback and web.password_file is None:
            reason = (
                f"the status page listens beyond loopback ({host}): give it a password_file "
                "(HTTP basic auth), or listen on 127.0.0.1"
            )
            raise self.error(node, "web.password_file", reason)
        return web

    def password_file(self, node: yaml.Node, path: str) -> Path:
        """A password file, read as its users will read it (``passwords``) when files are
        checked: refused here, naming the field, not in the thread that connects."""
        value = self.runtime_file(node, path)
        if self.check_files:
            try:
                read_password(value)
            except PasswordError as e:
                raise self.error(node, path, str(e)) from None
        return value

    def runtime_file(self, node: yaml.Node, path: str) -> Path:
        """A file the station reads at run time (secrets, certificates): it must exist."""
        value = self.base / self.string(node, path)
        if self.check_files:
            if not value.is_file():
                raise self.error(node, path, f"file not found: {value}")
            try:  # as the user that loads it: the service's, under systemd
                with value.open("rb"):
                    pass
            except OSError as e:
                reason = f"cannot read {value}: {e.strerror} (the service user must be able to)"
                raise self.error(node, path, reason) from None
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
                "area",
            ),
        )
        kwargs: _MqttArgs = {"host": self.string(m["host"], "mqtt.host")}
        ranges: tuple[tuple[Literal["port", "keepalive", "qos"], int, int], ...] = (
            ("port", 1, 65535),
            ("keepalive", 5, 3600),
            ("qos", 0, 2),
        )
        for key, low, high in ranges:
            if (n := self.present(m, key)) is not None:
                value = self.integer(n, f"mqtt.{key}")
                if not low <= value <= high:
                    raise self.error(n, f"mqtt.{key}", f"must be between {low} and {high}")
                kwargs[key] = value
        for name in ("client_id", "username", "base_topic", "discovery_prefix", "area"):
            if (n := self.present(m, name)) is not None:
                text = self.string(n, f"mqtt.{name}")
                if name in ("base_topic", "discovery_prefix") and (
                    not text or any(c in text for c in "#+") or text.endswith("/")
                ):
                    reason = "a topic without wildcards (# +) or a trailing /"
                    raise self.error(n, f"mqtt.{name}", f"expected {reason}, got {text!r}")
                kwargs[name] = text
        if (n := self.present(m, "password_file")) is not None:
            kwargs["password_file"] = self.password_file(n, "mqtt.password_file")
        if (n := self.present(m, "commands")) is not None:
            kwargs["commands"] = self.boolean(n, "mqtt.commands")
        if (n := self.present(m, "tls")) is not None:
            kwargs["tls"] = self.tls(n)
        if "password_file" in kwargs and "username" not in kwargs:
            raise self.error(node, "mqtt.username", "password_file needs a username")
        return MqttConfig(**kwargs)

    def tls(self, node: yaml.Node) -> TlsConfig:
        m = self.mapping(
            node, "mqtt.tls", optional=("ca_file", "cert_file", "key_file", "insecure")
        )
        kwargs: _TlsArgs = {}
        for key in ("ca_file", "cert_file", "key_file"):
            if (n := self.present(m, key)) is not None:
                kwargs[key] = self.runtime_file(n, f"mqtt.tls.{key}")
        if (n := self.present(m, "insecure")) is not None:
            kwargs["insecure"] = self.boolean(n, "mqtt.tls.insecure")
        if ("cert_file" in kwargs) != ("key_file" in kwargs):
            raise self.error(node, "mqtt.tls", "cert_file and key_file go together")
        if self.check_files:
            self.check_tls(m, kwargs)
        return TlsConfig(**kwargs)

    def check_tls(self, m: dict[str, yaml.Node], files: _TlsArgs) -> None:
        """Load the certificates as the MQTT client will (an ssl context, as paho-mqtt's
        tls_set builds it), so a file that is not what it should be is refused here, not
        found out by the daemon's connection thread."""
        context = ssl.create_default_context()
        if "ca_file" in files:
            try:
                context.load_verify_locations(cafile=str(files["ca_file"]))
            except ssl.SSLError as e:
                reason = f"not a PEM certificate ({e.reason or e})"
                raise self.error(m["ca_file"], "mqtt.tls.ca_file", reason) from None
        if "cert_file" in files:
            try:
                # A callable password: an encrypted key is refused, never prompted for.
                context.load_cert_chain(
                    str(files["cert_file"]), str(files["key_file"]), password=lambda: b""
                )
            except ssl.SSLError as e:
                reason = (
                    "the certificate and key_file do not load together (a PEM certificate, "
                    f"its unencrypted private key): {e.reason or e}"
                )
                raise self.error(m["cert_file"], "mqtt.tls.cert_file", reason) from None

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
                "labels",
            ),
        )
        kwargs: _StationArgs = {}
        if (n := self.present(m, "labels")) is not None:
            kwargs["labels"] = self.labels(n, "station.labels")
        if (n := self.present(m, "id")) is not None:
            value = self.string(n, "station.id")
            if not _STATION_ID_RE.fullmatch(value):
                reason = (
                    f"invalid station id {value!r}: use 1-32 of [a-z0-9-] (no '_': Home "
                    "Assistant's ids turn '-' into '_', and two stations would be one)"
                )
                raise self.error(n, "station.id", reason)
            kwargs["id"] = value
        for key in ("button", "status_led"):
            if (n := self.present(m, key)) is not None:
                kwargs[key] = self.pin(n, f"station.{key}")
        for setting in ("hold_time", "settle_time", "debounce"):
            if (n := self.present(m, setting)) is not None:
                kwargs[setting] = self.seconds(n, f"station.{setting}")
        if (n := self.present(m, "trigger")) is not None:
            kwargs["trigger"] = self.choice(n, "station.trigger", TRIGGERS)
        if (n := self.present(m, "recovery_profile")) is not None:
            kwargs["recovery_profile"] = self.string(n, "station.recovery_profile")
            self.recovery_node = n
        if (n := self.present(m, "serial_range")) is not None:
            kwargs["serial_range"] = self.serial_range(n, "station.serial_range")
        # Absent or "auto": this machine's model (usb-map writes it; a config copied to
        # another Pi follows it), the reference station's on a machine that is not a Pi.
        pi_model = "auto"
        if (n := self.present(m, "pi_model")) is not None:
            pi_model = self.choice(n, "station.pi_model", (*PI_MODELS, "auto"))
        if pi_model == "auto":
            pi_model = machine_pi_model() or DEFAULT_PI_MODEL
        kwargs["pi_model"] = pi_model
        if (n := self.present(m, "buses")) is not None:
            if not isinstance(n, yaml.SequenceNode):
                raise self.error(n, "station.buses", f"expected a list, got {describe(n)}")
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

    def labels(self, node: yaml.Node, path: str) -> LabelsConfig:
        m = self.mapping(node, path, optional=("print_on", "printer", "layout"))
        print_on = "never"
        if (n := self.present(m, "print_on")) is not None:
            print_on = self.choice(n, f"{path}.print_on", ("never", "ok"))
        printer = None
        if (n := self.present(m, "printer")) is not None:
            printer = self.printer(n, f"{path}.printer")
        if print_on == "ok" and printer is None:
            raise self.error(node, f"{path}.printer", "print_on: ok needs a printer")
        layout = LabelLayout()
        if (n := self.present(m, "layout")) is not None:
            layout = self.label_layout(n, f"{path}.layout")
        return LabelsConfig(print_on, printer, layout)

    def printer(self, node: yaml.Node, path: str) -> PrinterConfig:
        m = self.mapping(
            node, path, required=("kind",), optional=("device", "model", "label", "queue")
        )
        kind = self.choice(m["kind"], f"{path}.kind", PRINTER_KINDS)
        values = {
            key: self.string(n, f"{path}.{key}").strip()
            for key in ("device", "model", "label", "queue")
            if (n := self.present(m, key)) is not None
        }
        needs = {"brother_ql": "device", "zebra": "device", "cups": "queue"}[kind]
        if needs not in values:
            raise self.error(node, f"{path}.{needs}", f"a {kind} printer needs {needs}")
        device = values.get("device")
        if device is not None and not (device.startswith("/") or device.startswith("tcp://")):
            reason = f"expected a device path (/dev/usb/lp0) or tcp://host:port, got {device!r}"
            raise self.error(m["device"], f"{path}.device", reason)
        if device is not None and device.startswith("tcp://"):
            try:
                tcp_address(device)
            except ValueError as e:
                raise self.error(m["device"], f"{path}.device", str(e)) from None
        if kind == "brother_ql":
            from brother_ql.devicedependent import label_sizes, models

            for key, known in (("model", models), ("label", label_sizes)):
                if key in values and values[key] not in known:
                    reason = (
                        f"brother_ql knows no {key} {values[key]!r}{suggest(values[key], known)}"
                    )
                    raise self.error(m[key], f"{path}.{key}", reason)
        return PrinterConfig(kind=kind, **values)

    def label_layout(self, node: yaml.Node, path: str) -> LabelLayout:
        m = self.mapping(
            node, path, optional=("width_mm", "height_mm", "fields", "font_size", "dpi")
        )
        default = LabelLayout()
        sizes = {}
        for key, low, high in (("width_mm", 10, 300), ("height_mm", 10, 300), ("font_size", 4, 48)):
            sizes[key] = float(getattr(default, key))
            if (n := self.present(m, key)) is not None:
                if not (is_kind(n, "int") or is_kind(n, "float")):
                    raise self.error(n, f"{path}.{key}", f"expected a number, got {describe(n)}")
                value = float(n.value)
                if not low <= value <= high:
                    raise self.error(n, f"{path}.{key}", f"expected {low} to {high}, got {n.value}")
                sizes[key] = value
        dpi = default.dpi
        if (n := self.present(m, "dpi")) is not None:
            dpi = self.integer(n, f"{path}.dpi")
            if dpi not in (203, 300, 600):
                raise self.error(n, f"{path}.dpi", f"expected 203, 300 or 600, got {dpi}")
        fields = default.fields
        if (n := self.present(m, "fields")) is not None:
            if not isinstance(n, yaml.SequenceNode) or not n.value:
                raise self.error(n, f"{path}.fields", "expected a list of fields")
            fields = tuple(
                self.choice(item, f"{path}.fields[{i}]", LABEL_FIELDS)
                for i, item in enumerate(n.value)
            )
        return LabelLayout(sizes["width_mm"], sizes["height_mm"], fields, sizes["font_size"], dpi)

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
            reason = f"unknown profile {value!r}{suggest(value, names)}; profiles: {known}"
            raise self.error(node, "active_profile", reason)
        return value

    def profile(self, name: str, node: yaml.Node, path: str) -> Profile:
        m = self.mapping(
            node,
            path,
            required=("images",),
            optional=(
                "chip",
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
        kwargs: _ProfileArgs = {}
        if (n := self.present(m, "baud")) is not None:
            baud = self.integer(n, f"{path}.baud")
            if baud not in BAUD_RATES:
                rates = ", ".join(str(b) for b in BAUD_RATES)
                raise self.error(n, f"{path}.baud", f"unsupported baud {baud}; use one of {rates}")
            kwargs["baud"] = baud
        flash_choices: tuple[
            tuple[Literal["flash_mode", "flash_freq", "flash_size"], tuple[str, ...]], ...
        ] = (
            ("flash_mode", FLASH_MODES),
            ("flash_freq", FLASH_FREQS),
            ("flash_size", FLASH_SIZES),
        )
        for key, choices in flash_choices:
            if (n := self.present(m, key)) is not None:
                kwargs[key] = self.choice(n, f"{path}.{key}", choices)
        if (n := self.present(m, "verify")) is not None:
            kwargs["verify"] = self.boolean(n, f"{path}.verify")
        policy_choices: tuple[
            tuple[Literal["erase", "rf_init", "backup", "min_flash_size"], tuple[str, ...]], ...
        ] = (
            ("erase", ERASE_POLICIES),
            ("rf_init", ("none", "auto")),
            ("backup", ("none", "before_write")),
            ("min_flash_size", tuple(SIZE_BYTES)),
        )
        for policy, choices in policy_choices:
            if (n := self.present(m, policy)) is not None:
                kwargs[policy] = self.choice(n, f"{path}.{policy}", choices)
        if (n := self.present(m, "identity")) is not None:
            kwargs["identity"] = self.identity(n, f"{path}.identity", name)
        if (n := self.present(m, "boot_check")) is not None:
            kwargs["boot_check"] = self.boot_check(n, f"{path}.boot_check")
        if (n := self.present(m, "burn_in")) is not None:
            kwargs["burn_in"] = self.burn_in(n, f"{path}.burn_in")
        flash_size = str(kwargs.get("flash_size", "keep"))
        chip_node = self.present(m, "chip")
        chip = "esp8266" if chip_node is None else self.choice(chip_node, f"{path}.chip", CHIPS)
        images = self.chip_images(m["images"], f"{path}.images", flash_size, chip, chip_node)
        others = sorted({i.chip for i in images} - {"esp8266"})
        if flash_size in ESP8266_MAPS and others:
            reason = (
                f"{flash_size} is an ESP8266 flash map (the NONOS SDK's OTA layout); this "
                f"profile also has {', '.join(others)} images: give those a profile of their own"
            )
            raise self.error(m["flash_size"], f"{path}.flash_size", reason)
        if kwargs.get("rf_init") == "auto" and "esp8266" not in {i.chip for i in images}:
            reason = "RF init data is the ESP8266 SDK's: this profile has no esp8266 images"
            raise self.error(m["rf_init"], f"{path}.rf_init", reason)
        identity = kwargs.get("identity")
        if identity is not None:
            self.check_identity_chips(m["identity"], f"{path}.identity", identity, images)
        if identity is not None and identity.offset is not None:
            self.check_record_offset(
                m["identity"], f"{path}.identity.offset", identity.offset, flash_size
            )
        return Profile(name=name, images=images, **kwargs)

    def check_record_offset(self, node: yaml.Node, path: str, offset: int, size: str) -> None:
        """The unit record's sector must be its own, and on the flash."""
        capacity = header_bytes(size)
        if capacity is not None and offset + SECTOR_SIZE > capacity:
            reason = f"unit record at {offset:#x} is beyond {size} of flash"
            raise self.error(node, path, reason)
        for i, (start, length) in enumerate(self.image_spans):
            if _overlaps(start, length, offset, SECTOR_SIZE):
                reason = (
                    f"unit record at {offset:#x}-{offset + SECTOR_SIZE - 1:#x} overlaps "
                    f"images[{i}] {_span(start, length)}"
                )
                raise self.error(node, path, reason)

    def identity(self, node: yaml.Node, path: str, profile: str) -> Identity:
        m = self.mapping(
            node,
            path,
            required=("mode",),
            optional=("template", "offset", "placeholder", "folder", "namespace", "nvs_fields"),
        )
        mode = self.choice(m["mode"], f"{path}.mode", IDENTITY_MODES)
        kwargs: _IdentityArgs = {"mode": mode}
        template_node = self.present(m, "template")
        if template_node is not None:
            kwargs["template"] = self.template(template_node, f"{path}.template")
        if (n := self.present(m, "offset")) is not None:
            kwargs["offset"] = self.offset(n, f"{path}.offset")
        if (n := self.present(m, "placeholder")) is not None:
            kwargs["placeholder"] = self.string(n, f"{path}.placeholder")
        if (n := self.present(m, "folder")) is not None:
            folder = self.base / self.string(n, f"{path}.folder")
            if self.check_files and not folder.is_dir():
                raise self.error(n, f"{path}.folder", f"folder not found: {folder}")
            kwargs["folder"] = folder
        if (n := self.present(m, "namespace")) is not None:
            kwargs["namespace"] = self.nvs_key(n, f"{path}.namespace")
        if (n := self.present(m, "nvs_fields")) is not None:
            kwargs["nvs_entries"] = self.nvs_fields(n, f"{path}.nvs_fields")
        # record's offset is the ESP8266's: profile() asks for it once it knows the chips.
        needs = {"record": None, "placeholder": "placeholder", "folder": "folder"}[mode]
        if needs is not None and needs not in kwargs:
            raise self.error(node, f"{path}.{needs}", f"identity mode '{mode}' needs {needs}")
        identity = Identity(**kwargs)
        # The longest client id this station gives out must fit where it goes.
        longest = identity.template.format(serial=self.serial_last, mac="5ccf7f000000")
        room = len(identity.placeholder.encode()) if identity.placeholder else MAX_CLIENT_ID
        if mode in ("record", "placeholder") and len(longest.encode()) > room:
            where = "its placeholder" if mode == "placeholder" else "a unit record"
            reason = (
                f"client id {longest[:40]!r} ({len(longest.encode())} bytes, serial "
                f"{self.serial_last}) does not fit {where} ({room} bytes)"
            )
            raise self.error(template_node or node, f"{path}.template", reason)
        self.check_on_label(template_node or node, f"{path}.template", longest, profile)
        return identity

    def check_on_label(self, node: yaml.Node, path: str, client_id: str, profile: str) -> None:
        """A unit's label (``flashjig labels``, the printer) shows its client id on a line
        and carries it in a QR code: the longest one must be one line and fit the code."""
        if "".join(client_id.splitlines()) != client_id:
            reason = f"client id {client_id[:40]!r} has a line break: a label prints it on one"
            raise self.error(node, path, reason)
        # segno takes a while to import: only a config that gives units an identity needs it
        from flashjig.config.labelcode import overflow

        serial = self.serial_last
        problem = overflow(
            serial=serial, client_id=client_id, station=self.station_id, profile=profile
        )
        if problem is not None:
            reason = (
                f"client id {client_id[:40]!r} ({len(client_id.encode())} bytes, serial "
                f"{serial}) does not fit a label: {problem}"
            )
            raise self.error(node, path, reason)

    def check_identity_chips(
        self, node: yaml.Node, path: str, identity: Identity, images: tuple[ImageSpec, ...]
    ) -> None:
        """A unit record needs its offset where there are ESP8266 images; the ESP32s take
        their unit data in NVS, which placeholder and folder modes do not write."""
        chips = {image.chip for image in images}
        if identity.mode == "record" and identity.offset is None and "esp8266" in chips:
            reason = "identity mode 'record' needs offset (where the ESP8266's record goes)"
            raise self.error(node, f"{path}.offset", reason)
        if identity.mode != "record" and chips - {"esp8266"}:
            others = ", ".join(sorted(chips - {"esp8266"}))
            reason = (
                f"identity mode '{identity.mode}' is for ESP8266 images; {others} units get "
                "their data in NVS: use mode 'record'"
            )
            raise self.error(node, f"{path}.mode", reason)

    def nvs_key(self, node: yaml.Node, path: str) -> str:
        value = self.string(node, path)
        if not _NVS_KEY_RE.fullmatch(value):
            reason = f"an NVS key or namespace is 1 to 15 letters, digits, _ . -; got {value!r}"
            raise self.error(node, path, reason)
        return value

    def nvs_fields(self, node: yaml.Node, path: str) -> tuple[tuple[str, str, str], ...]:
        """Extra NVS entries per unit, from a CSV in the NVS generator's format (key, type,
        encoding, value; type data), values templates of {serial}, {client_id}, {mac}."""
        csv_path = self.base / self.string(node, path)
        if not self.check_files and not csv_path.is_file():
            return ()
        try:
            rows = list(csv.DictReader(csv_path.read_text().splitlines()))
        except (OSError, UnicodeDecodeError, csv.Error) as e:
            raise self.error(node, path, f"cannot read {csv_path}: {e}") from None
        entries = []
        for number, row in enumerate(rows, 2):
            where = f"{csv_path} line {number}"
            if set(row) != {"key", "type", "encoding", "value"} or None in row.values():
                reason = f"{where}: expected the columns key,type,encoding,value"
                raise self.error(node, path, reason)
            key, encoding, value = row["key"], row["encoding"], row["value"]
            if row["type"] != "data" or encoding not in NVS_ENCODINGS:
                reason = (
                    f"{where}: type must be data and encoding one of {', '.join(NVS_ENCODINGS)}"
                )
                raise self.error(node, path, reason)
            if not _NVS_KEY_RE.fullmatch(key):
                raise self.error(node, path, f"{where}: key {key!r} is not 1 to 15 characters")
            problem = _template_problem(value, ("serial", "client_id", "mac"))
            if problem:
                raise self.error(node, path, f"{where}: {problem}")
            entries.append((key, encoding, value))
        return tuple(entries)

    def template(self, node: yaml.Node, path: str) -> str:
        """A client id template: {serial} and {mac} with format specs."""
        template = self.string(node, path)
        problem = _template_problem(template, ("serial", "mac"))
        if problem:
            raise self.error(node, path, problem)
        return template

    def boot_check(self, node: yaml.Node, path: str) -> BootCheck:
        m = self.mapping(node, path, required=("pattern",), optional=("timeout", "baud"))
        pattern = self.regex(m["pattern"], f"{path}.pattern")
        kwargs: _BootCheckArgs = {"pattern": pattern}
        if (n := self.present(m, "timeout")) is not None:
            kwargs["timeout"] = self.seconds(n, f"{path}.timeout", maximum=300)
        if (n := self.present(m, "baud")) is not None:
            baud = self.integer(n, f"{path}.baud")
            if not MIN_BAUD <= baud <= MAX_BAUD:
                reason = f"expected a baud from {MIN_BAUD} to {MAX_BAUD}, got {baud}"
                raise self.error(n, f"{path}.baud", reason)
            kwargs["baud"] = baud
        return BootCheck(**kwargs)

    def burn_in(self, node: yaml.Node, path: str) -> BurnIn:
        m = self.mapping(node, path, required=("seconds",), optional=("fail_patterns",))
        kwargs: _BurnInArgs = {
            "seconds": self.seconds(m["seconds"], f"{path}.seconds", maximum=24 * 3600)
        }
        if (n := self.present(m, "fail_patterns")) is not None:
            if not isinstance(n, yaml.SequenceNode):
                raise self.error(n, f"{path}.fail_patterns", "expected a list of patterns")
            kwargs["fail_patterns"] = tuple(
                self.regex(item, f"{path}.fail_patterns[{i}]") for i, item in enumerate(n.value)
            )
        return BurnIn(**kwargs)

    def serial_range(self, node: yaml.Node, path: str) -> tuple[int, int]:
        if not isinstance(node, yaml.SequenceNode) or len(node.value) != 2:
            raise self.error(node, path, "expected [first, last], e.g. [1, 500]")
        first = self.integer(node.value[0], f"{path}[0]")
        last = self.integer(node.value[1], f"{path}[1]")
        if not 0 <= first <= last:
            raise self.error(node, path, f"expected 0 <= first <= last, got [{first}, {last}]")
        if last > MAX_SERIAL:
            reason = f"serials are stored as 64-bit integers: the last may be {MAX_SERIAL} at most"
            raise self.error(node.value[1], f"{path}[1]", reason)
        return first, last

    def chip_images(
        self,
        node: yaml.Node,
        path: str,
        flash_size: str,
        chip: str,
        chip_node: yaml.Node | None,
    ) -> tuple[ImageSpec, ...]:
        """A list of images for the profile's ``chip``, a build's ``flasher_args.json``
        (its chip the file's), or a mapping of chip to either."""
        if is_kind(node, "str"):
            return self.build_images(node, path, flash_size, None if chip_node is None else chip)
        if not isinstance(node, yaml.MappingNode):
            return self.images(node, path, flash_size, chip)
        if chip_node is not None:
            reason = "chip names the images' chip when images is a list; here each list is named"
            raise self.error(chip_node, path.rsplit(".", 1)[0] + ".chip", reason)
        lists = self.entries(node, path, "a mapping of chip to images")
        if not lists:
            raise self.error(node, path, "at least one chip's images are required")
        out: list[ImageSpec] = []
        spans: list[tuple[int, int | None]] = []
        for key, images in lists.items():
            key_node = next(k for k, _ in node.value if k.value == key)
            name = self.choice(key_node, f"{path}.{key}", CHIPS)
            if any(spec.chip == name for spec in out):
                raise self.error(key_node, f"{path}.{key}", f"{name} has a second list here")
            if is_kind(images, "str"):
                out += self.build_images(images, f"{path}.{key}", flash_size, name)
            else:
                out += self.images(images, f"{path}.{key}", flash_size, name)
            if name == "esp8266":  # the unit record (checked against these) is its alone
                spans = self.image_spans
        self.image_spans = spans
        return tuple(out)

    def images(
        self, node: yaml.Node, path: str, flash_size: str, chip: str = "esp8266"
    ) -> tuple[ImageSpec, ...]:
        if not isinstance(node, yaml.SequenceNode):
            reason = (
                "expected a list of images, a build's flasher_args.json (or chip: list), "
                f"got {describe(node)}"
            )
            raise self.error(node, path, reason)
        if not node.value:
            raise self.error(node, path, "at least one image is required")
        parsed = [self.image(n, f"{path}[{i}]", chip) for i, n in enumerate(node.value)]
        where = [(n, f"{path}[{i}]", "") for i, n in enumerate(node.value)]
        return self.laid_out(parsed, where, flash_size)

    def build_images(
        self, node: yaml.Node, path: str, flash_size: str, chip: str | None
    ) -> tuple[ImageSpec, ...]:
        """The images a build's ``flasher_args.json`` lists, checked as if each had been
        written in the profile; the build's chip must be ``chip`` when one is named."""
        file = Path(os.path.normpath(self.base / Path(self.string(node, path)).expanduser()))
        try:
            build = read_flasher_args(file)
        except FlasherArgsError as e:
            raise self.error(node, path, str(e)) from None
        if build.chip not in CHIPS:
            reason = f"{file} is a build for {build.chip}; the station flashes {', '.join(CHIPS)}"
            raise self.error(node, path, reason)
        if chip is not None and build.chip != chip:
            reason = f"{file} is a build for {build.chip}, not {chip}"
            raise self.error(node, path, reason)
        parsed = []
        where = []
        for offset, image_path in build.files:
            entry = f"{file.name}: flash_files {offset:#x} ({image_path.name})"
            self.check_offset(node, path, offset, f"{entry}: ")
            size = self.image_file(node, path, image_path, f"{entry}: ")
            parsed.append((ImageSpec(offset=offset, path=image_path, chip=build.chip), size))
            where.append((node, path, f"{entry}: "))
        return self.laid_out(parsed, where, flash_size)

    def laid_out(
        self,
        parsed: list[tuple[ImageSpec, int | None]],
        where: list[tuple[yaml.Node, str, str]],
        flash_size: str,
    ) -> tuple[ImageSpec, ...]:
        """The images, refused if one lies off the flash or two overlap; ``where`` says
        for each the node, field and words that locate it."""
        self.image_spans = [(spec.offset, size) for spec, size in parsed]
        capacity = header_bytes(flash_size)
        for j, (spec, size) in enumerate(parsed):
            node, here, entry = where[j]
            end = spec.offset + (size or 0)
            if capacity is not None and (spec.offset >= capacity or end > capacity):
                reason = f"image {_span(spec.offset, size)} does not fit in {flash_size} of flash"
                raise self.error(node, here, entry + reason)
            if end > MAX_FLASH:
                reason = f"image {_span(spec.offset, size)} does not fit in {size_name(MAX_FLASH)}"
                raise self.error(node, here, f"{entry}{reason}, the most flash any module has")
            for i in range(j):
                other, other_size = parsed[i]
                if _overlaps(other.offset, other_size, spec.offset, size):
                    reason = (
                        f"image {_span(spec.offset, size)} overlaps images[{i}] "
                        f"{_span(other.offset, other_size)} ({other.path.name})"
                    )
                    raise self.error(node, here, entry + reason)
        return tuple(spec for spec, _ in parsed)

    def image(self, node: yaml.Node, path: str, chip: str) -> tuple[ImageSpec, int | None]:
        """One image plus its file size (None if the file is not there to measure)."""
        m = self.mapping(node, path, required=("offset", "file"), optional=("sha256",))
        offset = self.offset(m["offset"], f"{path}.offset")
        file_node = m["file"]
        raw = self.string(file_node, f"{path}.file")
        if not raw.strip():
            raise self.error(file_node, f"{path}.file", "image file name is empty")
        # normpath, not resolve(): keep symlinks such as firmware/current.bin as written.
        image_path = Path(os.path.normpath(self.base / Path(raw).expanduser()))
        size = self.image_file(file_node, f"{path}.file", image_path)
        sha256 = None
        if (n := self.present(m, "sha256")) is not None:
            digest = self.string(n, f"{path}.sha256").strip().lower()
            if not _SHA256_RE.fullmatch(digest):
                reason = f"sha256 must be 64 hex characters, got {n.value!r}"
                raise self.error(n, f"{path}.sha256", reason)
            sha256 = digest
        return ImageSpec(offset=offset, path=image_path, sha256=sha256, chip=chip), size

    def image_file(
        self, node: yaml.Node, path: str, image_path: Path, entry: str = ""
    ) -> int | None:
        """The size of an image file (None if it is not there to measure); refused when
        files are checked and it is missing, not a file, or empty."""
        size = image_path.stat().st_size if image_path.is_file() else None
        if self.check_files:
            if not image_path.exists():
                raise self.error(node, path, f"{entry}image file not found: {image_path}")
            if size is None:
                reason = f"{entry}image file is not a regular file: {image_path}"
                raise self.error(node, path, reason)
            if size == 0:
                raise self.error(node, path, f"{entry}image file is empty: {image_path}")
        return size

    def sockets(self, node: yaml.Node, active: Profile) -> tuple[SocketConfig, ...]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.error(node, "sockets", f"expected a list of sockets, got {describe(node)}")
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
                required=("name", "serial"),
                optional=(
                    *("boot", "gpio0", "en", "chip", "native_usb"),
                    *("detect", "led", "power", "power_active_low"),
                ),
            )
            name = self.name(m["name"], f"{path}.name", "socket name")
            if name in names:
                reason = f"duplicate socket name {name!r} (also {names[name]}.name)"
                raise self.error(m["name"], f"{path}.name", reason)
            names[name] = path
            serial = self.serial(m["serial"], f"{path}.serial")
            # One device however it is spelled: /dev//x, a udev symlink and its target.
            device = serial if "://" in serial else os.path.realpath(serial)
            if device in serials:
                reason = f"serial device {serial} is also used by {serials[device]}"
                raise self.error(m["serial"], f"{path}.serial", reason)
            serials[device] = path
            chip_node = self.present(m, "chip")
            chip = "esp8266"
            if chip_node is not None:
                chip = self.choice(chip_node, f"{path}.chip", SOCKET_CHIPS)
            usb_node = self.present(m, "native_usb")
            native_usb = usb_node is not None and self.boolean(usb_node, f"{path}.native_usb")
            boot_key, boot, en = "boot", None, None
            if native_usb:
                assert usb_node is not None
                self.check_native_usb(usb_node, m, path, chip)
            else:
                boot_key = self.boot_key(item, m, path)
                boot = self.pin(m[boot_key], f"{path}.{boot_key}")
                if "en" not in m:
                    raise self.error(item, f"{path}.en", "missing required key 'en'")
                en = self.pin(m["en"], f"{path}.en")
            if chip != "auto" and chip not in active.chips:
                reason = (
                    f"the socket holds an {chip} (the default is esp8266) and the active "
                    f"profile {active.name!r} has images for {', '.join(active.chips)} only: "
                    "set chip here, or give the profile images for it"
                )
                raise self.error(item if chip_node is None else chip_node, f"{path}.chip", reason)
            detect_node = self.present(m, "detect")
            detect = None if detect_node is None else self.pin(detect_node, f"{path}.detect")
            led_node = self.present(m, "led")
            led = LedPins() if led_node is None else self.led(led_node, f"{path}.led")
            power_node = self.present(m, "power")
            power = None if power_node is None else self.pin(power_node, f"{path}.power")
            active_low_node = self.present(m, "power_active_low")
            if power_node is not None and active_low_node is None:
                # No default: guessed wrong, a switch would power every empty socket.
                reason = (
                    "required with power: true when the pin drives a P-MOSFET gate "
                    "directly (low = on), false when it drives a transistor or load switch "
                    "(high = on)"
                )
                raise self.error(power_node, f"{path}.power_active_low", reason)
            active_low = (
                True
                if active_low_node is None
                else self.boolean(active_low_node, f"{path}.power_active_low")
            )
            out.append(
                SocketConfig(
                    *(name, serial, boot, en, detect, led, power, active_low),
                    *(chip, boot_key, native_usb),
                )
            )
        return tuple(out)

    def check_native_usb(
        self, node: yaml.Node, m: dict[str, yaml.Node], path: str, chip: str
    ) -> None:
        """A module on its own USB port: the chips that have one, and no strap lines."""
        if chip not in NATIVE_USB_CHIPS:
            reason = (
                f"native USB (USB-Serial-JTAG) is on {', '.join(NATIVE_USB_CHIPS[:-1])}; "
                f"this socket's chip is {chip}: set chip"
            )
            raise self.error(node, f"{path}.native_usb", reason)
        for key in ("boot", "gpio0", "en", "detect", "power", "power_active_low"):
            if key in m:
                reason = (
                    f"a native USB socket has no {key} line: the module is seated when its "
                    "USB device appears, and reset over USB"
                )
                raise self.error(m[key], f"{path}.{key}", reason)

    def boot_key(self, node: yaml.Node, m: dict[str, yaml.Node], path: str) -> str:
        """``boot`` names the boot strap by its role; ``gpio0``, its old name, still works."""
        given = [key for key in ("boot", "gpio0") if key in m]
        if not given:
            raise self.error(node, f"{path}.boot", "missing required key 'boot'")
        if len(given) == 2:
            reason = "boot and gpio0 name the same line (gpio0 is its old name): keep one"
            raise self.error(m["gpio0"], f"{path}.gpio0", reason)
        return given[0]

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
                raise located_error(self.file, line, path, reason)
            first[pin] = path


def _template_problem(template: str, allowed: tuple[str, ...]) -> str | None:
    """What is wrong with a template of the ``allowed`` fields, with format specs and
    nothing else (no attribute or index access: a template is not code); None if nothing."""
    names = " or ".join(f"{{{name}}}" for name in allowed)
    hint = f"use {names}, with a format spec such as {{serial:05d}}"
    try:
        fields = [
            (field, spec, conversion)
            for _, field, spec, conversion in string.Formatter().parse(template)
            if field is not None
        ]
    except ValueError as e:
        return f"template {template!r} does not format: {e}; {hint}"
    for field, spec, conversion in fields:
        if field not in allowed or conversion or "{" in (spec or ""):
            return f"template field {{{field}}} is not allowed in {template!r}: {hint}"
    try:
        template.format(serial=1, client_id="node-1", mac="5ccf7f000000")
    except (KeyError, IndexError, ValueError) as e:
        return f"template {template!r} does not format: {e}; {hint}"
    return None


def _span(offset: int, size: int | None) -> str:
    return f"at {offset:#x}" if not size else f"at {offset:#x}-{offset + size - 1:#x}"


def _overlaps(a: int, a_size: int | None, b: int, b_size: int | None) -> bool:
    """Overlap of [a, a+a_size) and [b, b+b_size); an unknown size only collides at its start."""
    if a == b:
        return True
    lo, lo_size, hi = (a, a_size, b) if a < b else (b, b_size, a)
    return lo_size is not None and lo + lo_size > hi
