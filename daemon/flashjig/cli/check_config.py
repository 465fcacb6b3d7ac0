"""``flashjig check-config``: a config as the daemon would load it, plus the pins the Pi
model's buses and the HAT EEPROM need; one line per problem."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import yaml

from flashjig.cli.common import Subparsers, config_path
from flashjig.config import Config, load_config
from flashjig.config.pimodel import machine_pi_model
from flashjig.errors import ConfigError, ExitCode, ImageError
from flashjig.hardware.header import pin_problems
from flashjig.hardware.pi import usb_path_problems


def add_parser(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    cc = sub.add_parser(
        "check-config",
        parents=[common],
        help="validate a config: the loader's checks, pin clashes, pins the buses need",
        description="Check FILE (default: --config, $FLASHJIG_CONFIG, /etc/flashjig/flashjig.yaml) "
        "as the daemon loads it, plus the pins that station.buses and the HAT ID EEPROM need on "
        "station.pi_model. Prints 'FILE: ok (N sockets, profile P)' and exits 0, or one "
        "'FILE:LINE: FIELD: reason' line per problem and exits 2.",
    )
    cc.add_argument("file", nargs="?", type=Path, metavar="FILE")
    cc.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Exit 0 and one 'ok' line, or 2 and a line per problem."""
    path = args.file or config_path(args)
    config, problems = _check(path)
    for problem in problems:
        print(problem)
    if problems or config is None:
        return ExitCode.BAD_INPUT
    print(f"{path}: ok ({len(config.sockets)} sockets, profile {config.active_profile})")
    return ExitCode.OK


def _field_lines(path: Path) -> dict[str, int]:
    """Field path ('sockets[2].led.green') -> line number, to point at what to fix."""
    lines: dict[str, int] = {}

    def walk(node: yaml.Node | None, prefix: str) -> None:  # None: an empty file
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


def _located(path: Path, lines: dict[str, int], field: str, reason: str) -> str:
    """'FILE:LINE: FIELD: reason', as the loader words its own errors (no LINE: unknown)."""
    line = lines.get(field)
    return f"{path}:{line}: {field}: {reason}" if line else f"{path}: {field}: {reason}"


def _board_problems(config: Config, path: Path) -> list[str]:
    """What the Pi model says about the config: pins its buses take, its USB port names;
    and a model that is not this machine's, on a Pi."""
    lines = _field_lines(path)
    problems = _model_problems(config) + pin_problems(config) + usb_path_problems(config)
    return [_located(path, lines, *problem.split(": ", 1)) for problem in problems]


def _model_problems(config: Config) -> list[str]:
    """The config names another Pi than the device tree does (the packaged config's "4" on a
    Pi 5): its pins and USB names are checked against a board that is not here."""
    machine = machine_pi_model()
    model = config.station.pi_model
    if machine is None or machine == model:
        return []
    return [
        f"station.pi_model: {model!r}, but this machine is a Raspberry Pi {machine} (its "
        f"device tree): set {machine!r} or auto, or let flashjig usb-map set it"
    ]


def _refusal(path: Path, error: ConfigError | ImageError) -> str:
    if isinstance(error, ImageError):  # it names the image file
        return f"{path}: {error}"
    where = f"{path}:{error.line}" if error.line else f"{path}"
    return f"{where}: {error.field}: {error.reason}" if error.field else f"{where}: {error.reason}"


def _check(path: Path) -> tuple[Config | None, list[str]]:
    """One code path with the daemon's (load_station): what it refuses, this refuses."""
    from flashjig.station.daemon import load_station  # the daemon's, loaded only to check

    first: ConfigError | ImageError
    try:
        config, _ = load_station(path)
        return config, _board_problems(config, path)
    except (ConfigError, ImageError) as e:
        first = e
    problems = [_refusal(path, first)]
    # A missing or bad image (built or copied in later) hides nothing else: check the pins.
    try:
        config = load_config(path, check_files=False)
    except ConfigError as second:
        if str(second) != str(first):
            problems.append(_refusal(path, second))
        return None, problems
    return config, problems + _board_problems(config, path)


def check_config(path: str | os.PathLike[str]) -> list[str]:
    """Everything wrong with a config file, one 'FILE:LINE: FIELD: reason' line each; empty
    when the daemon would take it and no pin clashes with a bus or the HAT EEPROM. A missing
    image is a problem: the daemon refuses to start without it."""
    return _check(Path(path))[1]
