"""The Raspberry Pi's 40-pin header: which GPIO sits where, and which pins a bus or the HAT
EEPROM takes on each model, so that a config cannot wire a socket to one of them.

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

from gpiozero.pins.pi import PiBoardInfo

from flashjig.config import Config, SocketConfig

__all__ = [
    "BOARD_PULL_UPS",
    "BUS_PINS",
    "HAT_ID_PINS",
    "J8_HEADER",
    "SUPPLY_V",
    "VIL_MAX_V",
    "config_pins",
    "header_pin",
    "pin_problems",
    "socket_pins",
]

_I2C1 = {2: "SDA", 3: "SCL"}
_SPI0 = {7: "CE1", 8: "CE0", 9: "MISO", 10: "MOSI", 11: "SCLK"}
_SPI1 = {16: "CE2", 17: "CE1", 18: "CE0", 19: "MISO", 20: "MOSI", 21: "SCLK"}
_COMMON = {"i2c1": _I2C1, "spi0": _SPI0, "spi1": _SPI1, "uart0": {14: "TXD", 15: "RXD"}}


def _uart(tx: int) -> dict[int, str]:
    return {tx: "TXD", tx + 1: "RXD"}


# Bus -> {BCM pin: its role on that bus}, per Pi model (flashjig.config.PI_MODELS).
BUS_PINS: dict[str, dict[str, dict[int, str]]] = {
    "3B+": _COMMON,
    "Zero2W": _COMMON,
    "4": {**_COMMON, "uart2": _uart(0), "uart3": _uart(4), "uart4": _uart(8), "uart5": _uart(12)},
    "5": {**_COMMON, "uart2": _uart(4), "uart3": _uart(8), "uart4": _uart(12)},
}
HAT_ID_PINS = {0: "ID_SD", 1: "ID_SC"}
# The board's own pull-ups on header GPIOs: 1.8 kOhm to 3V3 on I2C1's SDA/SCL (the
# Raspberry Pi schematics; every 40-pin model). The levels a 3.3 V GPIO reads: low at most
# 0.8 V, high at least 2.0 V (the Raspberry Pi documentation's GPIO voltage table).
BOARD_PULL_UPS = {2: 1800, 3: 1800}
SUPPLY_V = 3.3
VIL_MAX_V = 0.8


def _j8() -> dict[int, int | str]:
    """Physical pin -> BCM number, or the rail it carries, from gpiozero's board data: the
    header is the same on every model the station runs on (3B+, 4, 5, Zero 2 W)."""
    pins = PiBoardInfo.from_revision(0xC03111).headers["J8"].pins  # a Pi 4 B
    return {
        number: int(info.name.removeprefix("GPIO")) if "gpio" in info.interfaces else info.name
        for number, info in sorted(pins.items())
    }


J8_HEADER = _j8()


def header_pin(pin: str) -> int:
    """The 40-pin header position of a 'GPIOn' name."""
    number = int(pin.removeprefix("GPIO"))
    return next(physical for physical, bcm in J8_HEADER.items() if bcm == number)


def socket_pins(
    button: str | None, status_led: str | None, sockets: tuple[SocketConfig, ...]
) -> list[tuple[str, str]]:
    """(field path, 'GPIOn') for the station's button and light and every socket's lines."""
    out = [
        (f"station.{key}", pin)
        for key, pin in (("button", button), ("status_led", status_led))
        if pin is not None
    ]
    for i, s in enumerate(sockets):
        for field, pin in ((s.boot_key, s.boot), ("en", s.en), ("detect", s.detect)):
            if pin is not None:
                out.append((f"sockets[{i}].{field}", pin))
        if s.power is not None:
            out.append((f"sockets[{i}].power", s.power))
        for colour in ("red", "green", "blue"):
            if (pin := getattr(s.led, colour)) is not None:
                out.append((f"sockets[{i}].led.{colour}", pin))
    return out


def config_pins(config: Config) -> list[tuple[str, str]]:
    """Every GPIO a config uses, as (field path, 'GPIOn'), in the loader's field names."""
    return socket_pins(config.station.button, config.station.status_led, config.sockets)


def pin_problems(config: Config) -> list[str]:
    """Buses the Pi model lacks, buses sharing pins, and pins a bus or the HAT EEPROM holds;
    each as 'FIELD: reason'."""

    def at(field: str, reason: str) -> str:
        return f"{field}: {reason}"

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
        for bcm, role in table[bus].items():
            bus_of.setdefault(bcm, bus)
            held[bcm] = f"{bus} {role} (station.buses)"
    for field, pin in config_pins(config):
        number = int(pin.removeprefix("GPIO"))
        if number in held:
            reason = f"{pin} (header pin {header_pin(pin)}) is reserved for {held[number]}"
            problems.append(at(field, reason))
    return problems
