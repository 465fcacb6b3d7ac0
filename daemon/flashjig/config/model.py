"""The station config as data: frozen dataclasses the loader builds and everything else
reads, and the fixed choices the loader checks fields against."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from flashjig.config.sizes import ESP8266_MAPS
from flashjig.config.sizes import NAMES as SIZE_NAMES
from flashjig.errors import ConfigError

SECTOR_SIZE = 0x1000  # the flash's erase sector: images must start on one
BAUD_RATES = (115200, 230400, 460800, 921600, 1500000, 2000000)
FLASH_MODES = ("keep", "qio", "qout", "dio", "dout")
FLASH_FREQS = ("keep", "40m", "26m", "20m", "80m")
FLASH_SIZES = ("keep", "detect", *SIZE_NAMES, *ESP8266_MAPS)
TRIGGERS = ("button", "insert", "both")
PI_MODELS = ("3B+", "4", "5", "Zero2W")
ERASE_POLICIES = ("written", "all")
IDENTITY_MODES = ("record", "placeholder", "folder")
BUSES = ("i2c1", "spi0", "spi1", "uart0", "uart2", "uart3", "uart4", "uart5")
# The chips a profile has images for, by esptool's --chip names; a socket may also say
# "auto": flash what the ROM says it is.
CHIPS = ("esp8266", "esp32", "esp32c3", "esp32s3")
SOCKET_CHIPS = (*CHIPS, "auto")
# What a label may show, besides its QR code (which carries them all).
LABEL_FIELDS = ("serial", "client_id", "mac", "profile", "date", "station", "chip")
PRINTER_KINDS = ("brother_ql", "zebra", "cups")
PRINTER_PORT = 9100  # a networked label printer's raw port, when its device names none


@dataclass(frozen=True)
class ImageSpec:
    """One binary to write to a chip; offset is sector aligned so esptool never erases a
    neighbour."""

    offset: int
    path: Path
    sha256: str | None = None
    chip: str = "esp8266"


@dataclass(frozen=True)
class Identity:
    """How each unit comes out different. ``record``: on an ESP8266 a unit record (JSON)
    written at ``offset``, on an ESP32-family chip an NVS partition (``namespace``: serial,
    client id, MAC, time, profile, station, and the ``nvs_entries`` read from a CSV, their
    values templates) at the NVS offset of the build's partition table; ``placeholder``:
    ``placeholder`` in an image replaced by the unit's client id; ``folder``: per-unit
    images from ``folder`` taken in order, each used once, in place of the image at the
    profile's first offset. The last two are ESP8266 only."""

    mode: str
    template: str = "node-{serial:03d}"
    offset: int | None = None
    placeholder: str | None = None
    folder: Path | None = None
    namespace: str = "flashjig"
    nvs_entries: tuple[tuple[str, str, str], ...] = ()  # (key, encoding, value template)


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
        r"ets Jan  8 2013,rst cause",  # the ESP8266 ROM's banner: the module reset
        r"rst:0x[0-9a-f]+ \((?!POWERON)",  # an ESP32-family ROM's, after anything but power-on
        r"Exception \(\d+\)",  # an SDK exception dump
        r"wdt reset",
        r"Fatal exception",
    )


@dataclass(frozen=True)
class Profile:
    """What to flash and how: the esptool settings shared by every socket. ``images`` holds
    every chip's images, each tagged with its chip."""

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

    @property
    def chips(self) -> tuple[str, ...]:
        """The chips this profile has images for, in the order the file names them."""
        return tuple(dict.fromkeys(spec.chip for spec in self.images))

    def images_for(self, chip: str) -> tuple[ImageSpec, ...]:
        return tuple(spec for spec in self.images if spec.chip == chip)


@dataclass(frozen=True)
class LedPins:
    """Per-socket status LED; any colour may be absent on a cheaper build."""

    red: str | None = None
    green: str | None = None
    blue: str | None = None


@dataclass(frozen=True)
class SocketConfig:
    """One socket: its USB-serial adapter and the GPIOs wired to it. ``boot`` is the strap
    the chip samples as EN rises (GPIO0 of an ESP8266, ESP32 or S3, GPIO9 of a C3). A
    ``native_usb`` socket (ESP32-C3/S3 on their own USB-Serial-JTAG port) has no strap
    lines: ``serial`` is the USB port's by-path name, the module is seated while a tty is
    there, and it is reset over USB."""

    name: str
    serial: str
    boot: str | None
    en: str | None
    detect: str | None = None
    led: LedPins = LedPins()
    power: str | None = None  # gate of the socket's power switch (P-MOSFET: low = on)
    power_active_low: bool = True
    chip: str = "esp8266"  # or "auto": whatever the ROM says it is
    boot_key: str = "boot"  # the key the file named the boot line by (gpio0 is the old one)
    native_usb: bool = False


@dataclass(frozen=True)
class LabelLayout:
    """One label: its size, the fields printed beside the QR code, their size in points."""

    width_mm: float = 62.0  # a Brother DK-22205 62 mm roll, cut to...
    height_mm: float = 29.0  # ...29 mm (DK-11209 62 x 29 die-cut labels are the same)
    fields: tuple[str, ...] = ("serial", "client_id", "mac", "profile", "date")
    font_size: float = 8.0
    dpi: int = 300


@dataclass(frozen=True)
class PrinterConfig:
    """Where labels go: a Brother QL (``model``, ``label`` as brother_ql names them) or a
    Zebra (ZPL) on ``device`` (a raw device path, or tcp://host:port), or a CUPS
    ``queue`` through ``lp``."""

    kind: str
    device: str | None = None
    model: str = "QL-800"
    label: str = "62x29"
    queue: str | None = None


def tcp_address(device: str) -> tuple[str, int]:
    """The (host, port) of a printer's tcp://host[:port] device; ValueError saying what is
    wrong with it: the loader refuses it, a printer cannot print to it."""
    where = urlsplit(device)
    try:
        port = where.port
    except ValueError:  # not a number, or out of 0..65535
        port = -1
    if port is not None and not 1 <= port <= 65535:
        raise ValueError(f"the port of {device!r} is not a TCP port (1 to 65535)")
    extra = where.path or where.query or where.fragment or where.username or where.password
    if where.scheme != "tcp" or not where.hostname or extra:
        raise ValueError(f"expected tcp://host or tcp://host:port, got {device!r}")
    return where.hostname, port or PRINTER_PORT


@dataclass(frozen=True)
class LabelsConfig:
    print_on: str = "never"  # ok: each unit's label as its module passes
    printer: PrinterConfig | None = None
    layout: LabelLayout = LabelLayout()


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
    labels: LabelsConfig = LabelsConfig()

    @property
    def prints_labels(self) -> bool:
        """Is a label queued for the printer with every ok outcome?"""
        return self.labels.print_on == "ok"


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
    area: str | None = None  # the area Home Assistant suggests for the station's device


@dataclass(frozen=True)
class WebConfig:
    """The read-only status page: where it listens, and the password (read from a file,
    never the YAML) it asks for with HTTP basic auth; required beyond loopback."""

    host: str = "127.0.0.1"
    port: int = 8080
    user: str = "flashjig"
    password_file: Path | None = None

    @property
    def loopback(self) -> bool:
        return self.host in ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True)
class Config:
    """The whole validated config; path is the absolute path of the file it came from."""

    path: Path
    station: StationConfig
    profiles: dict[str, Profile]
    active_profile: str
    sockets: tuple[SocketConfig, ...]
    mqtt: MqttConfig | None = None
    web: WebConfig | None = None

    def socket(self, name: str) -> SocketConfig:
        """Look a socket up by name; the error lists the known names to make typos obvious."""
        for sock in self.sockets:
            if sock.name == name:
                return sock
        known = ", ".join(s.name for s in self.sockets)
        raise ConfigError(f"unknown socket {name!r} (known sockets: {known})", field="sockets")

    @property
    def profile(self) -> Profile:
        """The active profile."""
        return self.profiles[self.active_profile]
