"""hw/pinmap.yaml: the station that hw/ documents, read so that tests and the wiring
drawing can hold the shipped config, the README and the SVG to it."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from flashjig.config import PI_MODELS, LedPins, SocketConfig
from flashjig.hardware.header import BOARD_PULL_UPS, SUPPLY_V, VIL_MAX_V, socket_pins

_BY_PATH = "/dev/serial/by-path"


@dataclass(frozen=True)
class PinMap:
    """The station hw/ describes: its pins, and the USB port of each socket's adapter."""

    pi_models: tuple[str, ...]
    buses: tuple[str, ...]
    button: str | None
    status_led: str | None
    sockets: tuple[SocketConfig, ...]  # serial: the /dev/serial/by-path name of its USB port
    id_paths: dict[str, str]  # socket name -> udev ID_PATH of its adapter
    series_ohms: dict[str, int]  # line role (boot, en, detect, led, power, button) -> ohms

    def pins(self) -> list[tuple[str, str]]:
        """Like config_pins(): (field path, 'GPIOn') for every wire to the header."""
        return socket_pins(self.button, self.status_led, self.sockets)

    def input_problems(self) -> list[str]:
        """Switch inputs that cannot read low: a series resistor against a board pull-up
        divides a closed switch's 0 V up past VIL."""
        inputs = [("station.button", self.button, "button")] + [
            (f"sockets[{i}].detect", s.detect, "detect") for i, s in enumerate(self.sockets)
        ]
        problems = []
        for field, pin, role in inputs:
            pull = None if pin is None else BOARD_PULL_UPS.get(int(pin.removeprefix("GPIO")))
            if pull is None:
                continue
            series = self.series_ohms.get(role, 0)
            low = SUPPLY_V * series / (series + pull)
            if low > VIL_MAX_V:
                problems.append(
                    f"{field}: {pin} has the board's {pull} Ohm pull-up: through {series} Ohm "
                    f"a closed switch reads {low:.2f} V, above the {VIL_MAX_V} V a low must be"
                )
        return problems


_GPIO_RE = re.compile(r"GPIO(\d|1\d|2[0-7])")


def load_pinmap(path: str | os.PathLike[str]) -> PinMap:
    """Read hw/pinmap.yaml; ValueError names the field that is wrong."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))

    def pin(value: object, field: str) -> str:
        if not isinstance(value, str) or not _GPIO_RE.fullmatch(value):
            raise ValueError(f"{path}: {field}: expected GPIO0..GPIO27, got {value!r}")
        return value

    def optional_pin(value: object, field: str) -> str | None:
        return None if value is None else pin(value, field)

    models = tuple(data["pi_models"])
    if unknown := set(models) - set(PI_MODELS):
        raise ValueError(f"{path}: pi_models: unknown {sorted(unknown)}")
    usb = data["usb"]
    sockets, id_paths = [], {}
    for i, s in enumerate(data["sockets"]):
        field = f"sockets[{i}]"
        id_path = f"{usb['controller']}-usb-0:{usb['hub']}.{s['hub_port']}:1.0"
        led = {c: optional_pin(p, f"{field}.led.{c}") for c, p in (s.get("led") or {}).items()}
        sockets.append(
            SocketConfig(
                name=s["name"],
                serial=f"{_BY_PATH}/{id_path}-port0",
                boot=pin(s["boot"], f"{field}.boot"),
                en=pin(s["en"], f"{field}.en"),
                detect=optional_pin(s.get("detect"), f"{field}.detect"),
                led=LedPins(**led),
                power=optional_pin(s.get("power"), f"{field}.power"),
                power_active_low=s.get("power_active_low", True),
            )
        )
        id_paths[s["name"]] = id_path
    station = data.get("station") or {}
    series = data.get("series_ohms") or {}
    if not all(isinstance(v, int) and v >= 0 for v in series.values()):
        raise ValueError(f"{path}: series_ohms: expected ohms (0 or more) per line, got {series}")
    return PinMap(
        pi_models=models,
        buses=tuple(data.get("buses") or ()),
        button=optional_pin(station.get("button"), "station.button"),
        status_led=optional_pin(station.get("status_led"), "station.status_led"),
        sockets=tuple(sockets),
        id_paths=id_paths,
        series_ohms=dict(series),
    )
