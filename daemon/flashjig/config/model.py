"""The station config as data: frozen dataclasses the loader builds and everything else
reads, the fixed choices and policies their fields take, and beside each field the reader
that fills it from the YAML (readers.py; walk.py calls them, rules.py checks what spans
fields)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Final, Literal
from urllib.parse import urlsplit

from flashjig.config.readers import (
    ActiveProfile,
    Choice,
    Choices,
    Flag,
    Folder,
    ImageFile,
    Images,
    Listen,
    Matching,
    Measure,
    Nested,
    Number,
    NvsFields,
    NvsKey,
    Offset,
    OneOf,
    PasswordFile,
    PiModel,
    Pin,
    Profiles,
    Regex,
    Regexes,
    RuntimeFile,
    Seconds,
    Sections,
    SerialDevice,
    SerialRange,
    Sha256,
    StrapLines,
    Template,
    Text,
    Topic,
)
from flashjig.config.sizes import BYTES as SIZE_BYTES
from flashjig.config.sizes import ESP8266_MAPS
from flashjig.config.sizes import NAMES as SIZE_NAMES
from flashjig.errors import ConfigError

BAUD_RATES = (115200, 230400, 460800, 921600, 1500000, 2000000)
SYNC_RATES = (115200, 230400, 460800, 921600)  # what an ESP8266 ROM may be synced at
FLASH_MODES = ("keep", "qio", "qout", "dio", "dout")
FLASH_FREQS = ("keep", "40m", "26m", "20m", "80m")
FLASH_SIZES = ("keep", "detect", *SIZE_NAMES, *ESP8266_MAPS)
PI_MODELS = ("3B+", "4", "5", "Zero2W")
BUSES = ("i2c1", "spi0", "spi1", "uart0", "uart2", "uart3", "uart4", "uart5")
# What a label may show, besides its QR code (which carries them all).
LABEL_FIELDS = ("serial", "client_id", "mac", "profile", "date", "station", "chip")


class Chip(StrEnum):
    """The chips a profile has images for, by esptool's --chip names (chips.py: what
    differs between them)."""

    ESP8266 = "esp8266"
    ESP32 = "esp32"
    ESP32C3 = "esp32c3"
    ESP32S3 = "esp32s3"


DEFAULT_CHIP = Chip.ESP8266  # of images and sockets that do not say
# A socket's chip may also be "auto": flash what the ROM says it is.
AUTO: Final = "auto"
SocketChip = Chip | Literal["auto"]
# A firmware's console: the ESP8266 UART runs from 300 baud to about 4.5 Mbaud.
MIN_BAUD, MAX_BAUD = 300, 4_500_000
_NAME_RE = re.compile(r"[a-z0-9_-]{1,32}")
# A station id names its Home Assistant device and entities, where "-" becomes "_" (their
# ids take no "-"): an id with "_" could be another station's (bench_1 and bench-1).
_STATION_ID_RE = re.compile(r"[a-z0-9-]{1,32}")


class Trigger(StrEnum):
    """What starts a flash: the station's button, a module seated in a socket, either."""

    BUTTON = "button"
    INSERT = "insert"
    BOTH = "both"


class Erase(StrEnum):
    WRITTEN = "written"  # the sectors the images cover
    ALL = "all"  # the whole chip first


class RfInit(StrEnum):
    NONE = "none"
    AUTO = "auto"  # SDK RF init data and blank system sectors for the size


class Backup(StrEnum):
    NONE = "none"
    BEFORE_WRITE = "before_write"  # read the whole flash into the state directory


class IdentityMode(StrEnum):
    RECORD = "record"
    PLACEHOLDER = "placeholder"
    FOLDER = "folder"


class PrintOn(StrEnum):
    NEVER = "never"
    OK = "ok"  # each unit's label as its module passes


class PrinterKind(StrEnum):
    BROTHER_QL = "brother_ql"
    ZEBRA = "zebra"
    CUPS = "cups"


PRINTER_PORT = 9100  # a networked label printer's raw port, when its device names none


@dataclass(frozen=True)
class ImageSpec:
    """One binary to write to a chip; offset is sector aligned so esptool never erases a
    neighbour."""

    offset: Annotated[int, Offset(required=True)]
    path: Annotated[Path, ImageFile(key="file", required=True)]
    sha256: Annotated[str | None, Sha256()] = None
    chip: Chip = DEFAULT_CHIP  # the profile's: Images reads it


@dataclass(frozen=True)
class Identity:
    """How each unit comes out different. ``record``: on an ESP8266 a unit record (JSON)
    written at ``offset``, on an ESP32-family chip an NVS partition (``namespace``: serial,
    client id, MAC, time, profile, station, and the ``nvs_entries`` read from a CSV, their
    values templates) at the NVS offset of the build's partition table; ``placeholder``:
    ``placeholder`` in an image replaced by the unit's client id; ``folder``: per-unit
    images from ``folder`` taken in order, each used once, in place of the image at the
    profile's first offset. The last two are ESP8266 only."""

    mode: Annotated[IdentityMode, Choice(IdentityMode, required=True)]
    template: Annotated[str, Template()] = "node-{serial:03d}"
    offset: Annotated[int | None, Offset()] = None
    placeholder: Annotated[str | None, Text()] = None
    folder: Annotated[Path | None, Folder()] = None
    namespace: Annotated[str, NvsKey()] = "flashjig"
    # (key, encoding, value template)
    nvs_entries: Annotated[tuple[tuple[str, str, str], ...], NvsFields(key="nvs_fields")] = ()


@dataclass(frozen=True)
class BootCheck:
    """After writing: strap into the firmware and wait for ``pattern`` (a regular
    expression) at the firmware's baud."""

    pattern: Annotated[str, Regex(required=True)]
    timeout: Annotated[float, Seconds(maximum=300)] = 5.0
    # None: the baud the firmware announces, else 115200
    baud: Annotated[
        int | None, Number(MIN_BAUD, MAX_BAUD, "expected a baud from {low} to {high}, got {value}")
    ] = None


@dataclass(frozen=True)
class BurnIn:
    """Keep a flashed module running and watch it: a reset or a crash fails the unit."""

    seconds: Annotated[float, Seconds(maximum=24 * 3600, required=True)]
    fail_patterns: Annotated[tuple[str, ...], Regexes()] = (
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

    name: str  # its key under profiles
    images: Annotated[tuple[ImageSpec, ...], Images(ImageSpec, Chip, DEFAULT_CHIP, required=True)]
    baud: Annotated[int, OneOf(BAUD_RATES, "unsupported baud {value}; use one of {values}")] = (
        921600
    )
    flash_mode: Annotated[str, Choice(FLASH_MODES)] = "keep"
    flash_freq: Annotated[str, Choice(FLASH_FREQS)] = "keep"
    flash_size: Annotated[str, Choice(FLASH_SIZES)] = "keep"
    verify: Annotated[bool, Flag()] = True
    erase: Annotated[Erase, Choice(Erase)] = Erase.WRITTEN
    rf_init: Annotated[RfInit, Choice(RfInit)] = RfInit.NONE
    # refuse modules with less flash than this
    min_flash_size: Annotated[str | None, Choice(tuple(SIZE_BYTES))] = None
    backup: Annotated[Backup, Choice(Backup)] = Backup.NONE
    identity: Annotated[Identity | None, Nested(Identity)] = None
    boot_check: Annotated[BootCheck | None, Nested(BootCheck)] = None
    burn_in: Annotated[BurnIn | None, Nested(BurnIn)] = None

    @property
    def chips(self) -> tuple[Chip, ...]:
        """The chips this profile has images for, in the order the file names them."""
        return tuple(dict.fromkeys(spec.chip for spec in self.images))

    def images_for(self, chip: str) -> tuple[ImageSpec, ...]:
        return tuple(spec for spec in self.images if spec.chip == chip)


@dataclass(frozen=True)
class LedPins:
    """Per-socket status LED; any colour may be absent on a cheaper build."""

    red: Annotated[str | None, Pin()] = None
    green: Annotated[str | None, Pin()] = None
    blue: Annotated[str | None, Pin()] = None


@dataclass(frozen=True)
class SocketConfig:
    """One socket: its USB-serial adapter and the GPIOs wired to it. ``boot`` is the strap
    the chip samples as EN rises (GPIO0 of an ESP8266, ESP32 or S3, GPIO9 of a C3). A
    ``native_usb`` socket (ESP32-C3/S3 on their own USB-Serial-JTAG port) has no strap
    lines: ``serial`` is the USB port's by-path name, the module is seated while a tty is
    there, and it is reset over USB."""

    name: Annotated[str, Matching(_NAME_RE, "socket name", "use 1-32 of [a-z0-9_-]", required=True)]
    serial: Annotated[str, SerialDevice(required=True)]
    boot: Annotated[str | None, StrapLines()]  # StrapLines fills en, boot_key, native_usb too
    en: str | None
    detect: Annotated[str | None, Pin()] = None
    led: Annotated[LedPins, Nested(LedPins)] = LedPins()
    # gate of the socket's power switch (P-MOSFET: low = on)
    power: Annotated[str | None, Pin()] = None
    power_active_low: Annotated[bool, Flag()] = True
    # or "auto": whatever the ROM says it is
    chip: Annotated[SocketChip, Choice(Chip, also=(AUTO,))] = DEFAULT_CHIP
    boot_key: str = "boot"  # the key the file named the boot line by (gpio0 is the old one)
    native_usb: bool = False


@dataclass(frozen=True)
class LabelLayout:
    """One label: its size, the fields printed beside the QR code, their size in points."""

    width_mm: Annotated[float, Measure(10, 300)] = 62.0  # a Brother DK-22205 62 mm roll, cut to...
    # ...29 mm (DK-11209 62 x 29 die-cut labels are the same)
    height_mm: Annotated[float, Measure(10, 300)] = 29.0
    fields: Annotated[tuple[str, ...], Choices(LABEL_FIELDS, noun="fields")] = (
        "serial",
        "client_id",
        "mac",
        "profile",
        "date",
    )
    font_size: Annotated[float, Measure(4, 48)] = 8.0
    dpi: Annotated[int, OneOf((203, 300, 600), "expected 203, 300 or 600, got {value}")] = 300


@dataclass(frozen=True)
class PrinterConfig:
    """Where labels go: a Brother QL (``model``, ``label`` as brother_ql names them) or a
    Zebra (ZPL) on ``device`` (a raw device path, or tcp://host:port), or a CUPS
    ``queue`` through ``lp``."""

    kind: Annotated[PrinterKind, Choice(PrinterKind, required=True)]
    device: Annotated[str | None, Text(strip=True)] = None
    model: Annotated[str, Text(strip=True)] = "QL-800"
    label: Annotated[str, Text(strip=True)] = "62x29"
    queue: Annotated[str | None, Text(strip=True)] = None


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
    print_on: Annotated[PrintOn, Choice(PrintOn)] = PrintOn.NEVER
    printer: Annotated[PrinterConfig | None, Nested(PrinterConfig)] = None
    layout: Annotated[LabelLayout, Nested(LabelLayout)] = LabelLayout()


@dataclass(frozen=True)
class StationConfig:
    """Station-wide settings that are not tied to a socket."""

    id: Annotated[
        str,
        Matching(
            _STATION_ID_RE,
            "station id",
            "use 1-32 of [a-z0-9-] (no '_': Home Assistant's ids turn '-' into '_', and two "
            "stations would be one)",
        ),
    ] = "flashjig"
    button: Annotated[str | None, Pin()] = None
    hold_time: Annotated[float, Seconds()] = 3.0  # a press this long cancels running flashes
    trigger: Annotated[Trigger, Choice(Trigger)] = Trigger.BUTTON
    # insert trigger: wait this long after a module is seated
    settle_time: Annotated[float, Seconds()] = 1.0
    debounce: Annotated[float, Seconds()] = 0.05  # a detect switch must hold its level this long
    retries: Annotated[int, Number(0, 10)] = 2  # attempts after the first
    fallback_baud: Annotated[int, OneOf(BAUD_RATES)] = 115200  # retries use this baud
    # an ESP8266's first sync and its stub's upload go at this; 115200 turns that off
    sync_baud: Annotated[int, OneOf(SYNC_RATES)] = 460800
    # an ESP32-family ROM changes to the write rate before the stub goes up
    rom_baud_change: Annotated[bool, Flag()] = True
    status_led: Annotated[str | None, Pin()] = None  # "daemon alive"
    # decides which pins the buses below take; absent from the file: this machine's
    pi_model: Annotated[str, PiModel(PI_MODELS)] = "4"
    # I2C/SPI/UART buses in use: their pins are reserved
    buses: Annotated[tuple[str, ...], Choices(BUSES)] = ()
    # unit serials this station may give out
    serial_range: Annotated[tuple[int, int], SerialRange()] = (1, 999_999)
    # a long press with nothing running flashes this
    recovery_profile: Annotated[str | None, Text()] = None
    # modules in the batch at hand: the status says how many are left to flash today
    batch: Annotated[int | None, Number(1, 100_000)] = None
    labels: Annotated[LabelsConfig, Nested(LabelsConfig)] = LabelsConfig()

    @property
    def prints_labels(self) -> bool:
        """Is a label queued for the printer with every ok outcome?"""
        return self.labels.print_on == PrintOn.OK


@dataclass(frozen=True)
class TlsConfig:
    """TLS to the broker; ``insecure`` (no hostname check) only when asked for by name."""

    ca_file: Annotated[Path | None, RuntimeFile()] = None
    cert_file: Annotated[Path | None, RuntimeFile()] = None
    key_file: Annotated[Path | None, RuntimeFile()] = None
    insecure: Annotated[bool, Flag()] = False


@dataclass(frozen=True)
class MqttConfig:
    """The broker the station reports to. The password is read from a file, never the YAML."""

    host: Annotated[str, Text(required=True)]
    port: Annotated[int, Number(1, 65535)] = 1883
    client_id: Annotated[str | None, Text()] = None  # default flashjig-<station id>
    username: Annotated[str | None, Text()] = None
    password_file: Annotated[Path | None, PasswordFile()] = None
    tls: Annotated[TlsConfig | None, Nested(TlsConfig)] = None
    keepalive: Annotated[int, Number(5, 3600)] = 60
    base_topic: Annotated[str | None, Topic()] = None  # default flashjig/<station id>
    discovery_prefix: Annotated[str, Topic()] = "homeassistant"
    qos: Annotated[int, Number(0, 2)] = 1
    # accept flash/cancel/profile commands from the broker
    commands: Annotated[bool, Flag()] = False
    # the area Home Assistant suggests for the station's device
    area: Annotated[str | None, Text()] = None


@dataclass(frozen=True)
class WebConfig:
    """The read-only status page: where it listens, and the password (read from a file,
    never the YAML) it asks for with HTTP basic auth; required beyond loopback."""

    host: Annotated[str, Listen(required=True)] = "127.0.0.1"  # Listen fills port too
    port: int = 8080
    user: Annotated[str, Text()] = "flashjig"
    password_file: Annotated[Path | None, PasswordFile()] = None
    # flash, cancel, drain, resume and the profile from the page (with the password only)
    commands: Annotated[bool, Flag()] = False

    @property
    def loopback(self) -> bool:
        return self.host in ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True, kw_only=True)
class Config:
    """The whole validated config; path is the absolute path of the file it came from."""

    path: Path
    station: Annotated[StationConfig, Nested(StationConfig)] = StationConfig()
    profiles: Annotated[dict[str, Profile], Profiles(Profile, required=True)]
    active_profile: Annotated[str, ActiveProfile()]
    sockets: Annotated[
        tuple[SocketConfig, ...], Sections(SocketConfig, noun="sockets", required=True)
    ]
    mqtt: Annotated[MqttConfig | None, Nested(MqttConfig)] = None
    web: Annotated[WebConfig | None, Nested(WebConfig)] = None

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
