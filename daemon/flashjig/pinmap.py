"""Which GPIOs a station may use, and ``flashjig check-config``.

The pins each bus takes on each Raspberry Pi model come from the overlay README of the
Raspberry Pi kernel (raspberrypi/linux, arch/arm/boot/dts/overlays/README) and the UART page of
the Raspberry Pi documentation:

- i2c1 GPIO2/3 and spi0 GPIO7-11 on every model; spi1 GPIO16-21 (spi1-3cs; spi1-1cs needs
  only 18-21); uart0 (the PL011 or mini UART on the header) GPIO14/15.
- Pi 4 (BCM2711): uart2 GPIO0/1, uart3 GPIO4/5, uart4 GPIO8/9, uart5 GPIO12/13
  (dtoverlay=uartN).
- Pi 5 (RP1): the extra UARTs are uart1..uart4 (dtoverlay=uartN-pi5): uart1 GPIO0/1,
  uart2 GPIO4/5, uart3 GPIO8/9, uart4 GPIO12/13. A config names the overlay, so "uart2" on a
  Pi 5 is uart2-pi5; there is no uart5, and uart1 sits on the HAT EEPROM pins.
- Pi 3B+ and Zero 2 W: uart0 only.

UARTs count TX and RX only: CTS/RTS (the overlays' ctsrts option) is not something a config
can say. GPIO0/1 carry the HAT ID EEPROM (ID_SD/ID_SC), which the firmware probes at boot:
reserved, unless the config gives them to a UART.
"""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from flashjig.config import (
    J8_HEADER,
    PI_MODELS,
    Config,
    ConfigError,
    LedPins,
    SocketConfig,
    load_config,
)

__all__ = [
    "BUS_PINS",
    "PinMap",
    "check_config",
    "check_config_command",
    "config_pins",
    "header_pin",
    "load_pinmap",
    "pin_problems",
]

_I2C1 = {2: "SDA", 3: "SCL"}
_SPI0 = {7: "CE1", 8: "CE0", 9: "MISO", 10: "MOSI", 11: "SCLK"}
_SPI1 = {16: "CE2", 17: "CE1", 18: "CE0", 19: "MISO", 20: "MOSI", 21: "SCLK"}
_COMMON = {"i2c1": _I2C1, "spi0": _SPI0, "spi1": _SPI1, "uart0": {14: "TXD", 15: "RXD"}}


def _uart(tx: int) -> dict[int, str]:
    return {tx: "TXD", tx + 1: "RXD"}


# Bus -> {BCM pin: its role on that bus}, per Pi model (config.PI_MODELS).
BUS_PINS: dict[str, dict[str, dict[int, str]]] = {
    "3B+": _COMMON,
    "Zero2W": _COMMON,
    "4": {**_COMMON, "uart2": _uart(0), "uart3": _uart(4), "uart4": _uart(8), "uart5": _uart(12)},
    "5": {**_COMMON, "uart2": _uart(4), "uart3": _uart(8), "uart4": _uart(12)},
}
HAT_ID_PINS = {0: "ID_SD", 1: "ID_SC"}
_BY_PATH = "/dev/serial/by-path"


def header_pin(pin: str) -> int:
    """The 40-pin header position of a 'GPIOn' name."""
    number = int(pin.removeprefix("GPIO"))
    return next(physical for physical, bcm in J8_HEADER.items() if bcm == number)


def _pins(
    button: str | None, status_led: str | None, sockets: tuple[SocketConfig, ...]
) -> list[tuple[str, str]]:
    out = [
        (f"station.{key}", pin)
        for key, pin in (("button", button), ("status_led", status_led))
        if pin is not None
    ]
    for i, s in enumerate(sockets):
        for field in ("gpio0", "en", "detect", "power"):
            if (pin := getattr(s, field)) is not None:
                out.append((f"sockets[{i}].{field}", pin))
        for colour in ("red", "green", "blue"):
            if (pin := getattr(s.led, colour)) is not None:
                out.append((f"sockets[{i}].led.{colour}", pin))
    return out


def config_pins(config: Config) -> list[tuple[str, str]]:
    """Every GPIO a config uses, as (field path, 'GPIOn'), in the loader's field names."""
    return _pins(config.station.button, config.station.status_led, config.sockets)


def pin_problems(config: Config, lines: dict[str, int] | None = None) -> list[str]:
    """Buses the Pi model lacks, buses sharing pins, and pins a bus or the HAT EEPROM holds."""
    lines = lines or {}

    def at(field: str, reason: str) -> str:
        line = lines.get(field)
        return f"line {line}: {field}: {reason}" if line else f"{field}: {reason}"

    model = config.station.pi_model
    table = BUS_PINS[model]
    problems: list[str] = []
    held = {pin: f"{role} of the HAT ID EEPROM" for pin, role in HAT_ID_PINS.items()}
    bus_of: dict[int, str] = {}
    for i, bus in enumerate(config.station.buses):
        field = f"station.buses[{i}]"
        if bus not in table:
            reason = f"{bus} does not exist on a Raspberry Pi {model} (it has {', '.join(table)})"
            problems.append(at(field, reason))
            continue
        if bus in config.station.buses[:i]:
            problems.append(at(field, f"{bus} is listed twice"))
            continue
        shared = [pin for pin in table[bus] if pin in bus_of]
        if shared:
            names = ", ".join(f"GPIO{pin}" for pin in shared)
            problems.append(at(field, f"{bus} and {bus_of[shared[0]]} both need {names}"))
        for pin, role in table[bus].items():
            bus_of.setdefault(pin, bus)
            held[pin] = f"{bus} {role} (station.buses)"
    for field, pin in config_pins(config):
        number = int(pin.removeprefix("GPIO"))
        if number in held:
            reason = f"{pin} (header pin {header_pin(pin)}) is reserved for {held[number]}"
            problems.append(at(field, reason))
    return problems


def _field_lines(path: Path) -> dict[str, int]:
    """Field path ('sockets[2].led.green') -> line number, to point at what to fix."""
    lines: dict[str, int] = {}

    def walk(node: yaml.Node, prefix: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                field = f"{prefix}.{key.value}" if prefix else str(key.value)
                lines[field] = value.start_mark.line + 1
                walk(value, field)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                lines[f"{prefix}[{i}]"] = item.start_mark.line + 1
                walk(item, f"{prefix}[{i}]")

    walk(yaml.compose(path.read_text(encoding="utf-8-sig"), Loader=yaml.SafeLoader), "")
    return lines


def _located(error: ConfigError) -> str:
    """A loader error without its file name (check-config puts that in front)."""
    parts = (f"line {error.line}" if error.line else None, error.field, error.reason)
    return ": ".join(part for part in parts if part)


def _check(path: Path) -> tuple[Config | None, list[str]]:
    try:
        return (config := load_config(path)), pin_problems(config, _field_lines(path))
    except ConfigError as e:
        first = e
    problems = [_located(first)]
    # A missing image (built or copied in later) hides nothing else: check the pins too.
    try:
        config = load_config(path, check_files=False)
    except ConfigError as second:
        if str(second) != str(first):
            problems.append(_located(second))
        return None, problems
    return config, problems + pin_problems(config, _field_lines(path))


def check_config(path: str | os.PathLike[str]) -> list[str]:
    """Everything wrong with a config file, one line each; empty when the daemon would take it
    and no pin clashes with a bus or the HAT EEPROM. A missing image is a problem: the daemon
    refuses to start without it."""
    return _check(Path(path))[1]


def check_config_command(args: argparse.Namespace) -> int:
    """``flashjig check-config [FILE]``: exit 0 and one 'ok' line, or 2 and a line per problem."""
    from flashjig.commands import config_path

    path = args.file or config_path(args)
    config, problems = _check(path)
    for problem in problems:
        print(f"{path}: {problem}")
    if problems or config is None:
        return 2
    print(f"{path}: ok ({len(config.sockets)} sockets, profile {config.active_profile})")
    return 0


# -- hw/pinmap.yaml ------------------------------------------------------------------------


@dataclass(frozen=True)
class PinMap:
    """The station hw/ describes: its pins, and the USB port of each socket's adapter."""

    pi_models: tuple[str, ...]
    buses: tuple[str, ...]
    button: str | None
    status_led: str | None
    sockets: tuple[SocketConfig, ...]  # serial: the /dev/serial/by-path name of its USB port
    id_paths: dict[str, str]  # socket name -> udev ID_PATH of its adapter

    def pins(self) -> list[tuple[str, str]]:
        """Like config_pins(): (field path, 'GPIOn') for every wire to the header."""
        return _pins(self.button, self.status_led, self.sockets)


_GPIO_RE = re.compile(r"GPIO(\d|1\d|2[0-7])")


def load_pinmap(path: str | os.PathLike[str]) -> PinMap:
    """Read hw/pinmap.yaml; ValueError names the field that is wrong."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))

    def pin(value: object, field: str) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or not _GPIO_RE.fullmatch(value):
            raise ValueError(f"{path}: {field}: expected GPIO0..GPIO27, got {value!r}")
        return value

    models = tuple(data["pi_models"])
    if unknown := set(models) - set(PI_MODELS):
        raise ValueError(f"{path}: pi_models: unknown {sorted(unknown)}")
    usb = data["usb"]
    sockets, id_paths = [], {}
    for i, s in enumerate(data["sockets"]):
        field = f"sockets[{i}]"
        id_path = f"{usb['controller']}-usb-0:{usb['hub']}.{s['hub_port']}:1.0"
        led = {c: pin(p, f"{field}.led.{c}") for c, p in (s.get("led") or {}).items()}
        sockets.append(
            SocketConfig(
                name=s["name"],
                serial=f"{_BY_PATH}/{id_path}-port0",
                gpio0=pin(s["gpio0"], f"{field}.gpio0"),
                en=pin(s["en"], f"{field}.en"),
                detect=pin(s.get("detect"), f"{field}.detect"),
                led=LedPins(**led),
                power=pin(s.get("power"), f"{field}.power"),
                power_active_low=s.get("power_active_low", True),
            )
        )
        id_paths[s["name"]] = id_path
    station = data.get("station") or {}
    return PinMap(
        pi_models=models,
        buses=tuple(data.get("buses") or ()),
        button=pin(station.get("button"), "station.button"),
        status_led=pin(station.get("status_led"), "station.status_led"),
        sockets=tuple(sockets),
        id_paths=id_paths,
    )
