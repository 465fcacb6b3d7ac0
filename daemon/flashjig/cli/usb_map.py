"""``flashjig usb-map``: which USB port is which socket's, found by plugging each socket's
adapter in turn; the config's ``serial:`` paths and the udev rules are written from that.

USB serial numbers are no use here (cheap adapters share one, or have none), and ttyUSB
numbers change between boots: the port is what stays. So the operator plugs the adapters in
one at a time, in socket order, and the map watches /dev/serial/by-path for the name that
appears. Nothing is written until every socket has its adapter; the config is rewritten
in place with its comments kept (only the ``serial:`` values change, and ``station.pi_model``
when the device tree names another Pi than the config: the by-path names just found are this
Pi's, and ``flashjig check-config`` holds them to the model) and checked by the loader
before it replaces the old one.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from flashjig.cli.common import Subparsers, config_path, load
from flashjig.config import parse_config
from flashjig.config.pimodel import machine_pi_model
from flashjig.errors import ConfigError, ExitCode, HardwareError, UsageError
from flashjig.hardware import usb
from flashjig.hardware.pi import USB_PORTS, usb_port

if TYPE_CHECKING:
    from flashjig.simulation.adapters import SimulatedAdapters

STEP_S = 120.0  # to find the right adapter and plug it in
SIM_STEP_S = 5.0
SIM_PAUSE_S = 0.1
RULES = Path("/etc/udev/rules.d/99-flashjig.rules")


def add_parser(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    um = sub.add_parser(
        "usb-map",
        parents=[common],
        help="find each socket's USB port by plugging its adapter in; write config and udev",
        description="Unplug the sockets' USB-serial adapters, then plug them in one at a time "
        "when asked, in socket order. Writes each socket's serial: path "
        "(/dev/serial/by-path/...) into the config and a udev rule naming it "
        "/dev/flashjig-SOCKET. Nothing is written unless every socket got its adapter.",
    )
    um.add_argument(
        "--rules", type=Path, default=RULES, metavar="FILE", help=f"udev rules (default {RULES})"
    )
    um.add_argument(
        "--simulate",
        action="store_true",
        help="simulated adapters: the map plugs them in itself, socket N into hub port N",
    )
    um.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    path = config_path(args)
    try:
        config = load(args, check_files=False)
    except UsageError as e:
        print(f"flashjig usb-map: {e}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    directory = usb.BY_PATH
    plug: Callable[[int], None] = _ask_person
    timeout = STEP_S
    # The Pi the adapters are plugged into; simulated adapters are named for the config's.
    machine = None if args.simulate else machine_pi_model()
    model = machine or config.station.pi_model
    if machine is not None and machine != config.station.pi_model:
        print(
            f"this is a Raspberry Pi {machine}: station.pi_model "
            f"{config.station.pi_model!r} becomes {machine!r}",
            flush=True,
        )
    if args.simulate:
        from flashjig.simulation.adapters import SimulatedAdapters

        adapters = SimulatedAdapters(config.station.pi_model)
        directory, plug, timeout = adapters.directory, _simulated(adapters), SIM_STEP_S
    try:
        before = usb.adapters(directory)
        if before and not args.simulate:
            print(f"ignoring the {len(before)} adapters already plugged in", flush=True)
        found: dict[str, str] = {}
        for number, socket in enumerate(config.sockets, 1):
            print(f"{socket.name}: plug in its adapter (hub port {number})", flush=True)
            plug(number)
            name = usb.wait_for_new(before, timeout, directory)
            if name is None:
                print(f"flashjig usb-map: no adapter appeared for {socket.name} in {timeout:g} s")
                return ExitCode.FAILED
            print(f"  {socket.name}: {name}{_under(name, model)}", flush=True)
            found[socket.name] = name
            before.add(name)
    except HardwareError as e:
        print(f"flashjig usb-map: {e}", file=sys.stderr)
        return ExitCode.FAILED
    finally:
        if args.simulate:
            adapters.close()
    try:
        serials = {s: f"{usb.BY_PATH}/{n}" for s, n in found.items()}
        _write_config(path, serials, pi_model=machine if model != config.station.pi_model else None)
    except (ConfigError, OSError) as e:
        print(f"flashjig usb-map: not writing {path}: {e}", file=sys.stderr)
        return ExitCode.FAILED
    where = f"Written by flashjig usb-map for {path} on a Raspberry Pi {model}."
    rules = usb.udev_rules(((s, usb.id_path(n)) for s, n in found.items()), where=where)
    try:
        _write_atomic(args.rules, rules)
    except OSError as e:
        print(f"flashjig usb-map: cannot write {args.rules}: {e.strerror}", file=sys.stderr)
        return ExitCode.FAILED
    print(
        f"wrote the serial: paths of {len(found)} sockets to {path} and udev rules to {args.rules}"
    )
    print("apply the rules: sudo udevadm control --reload && sudo udevadm trigger")
    return ExitCode.OK


def _under(name: str, model: str) -> str:
    """Which of the Pi's USB ports an adapter hangs off, where the model has a port table."""
    if model not in USB_PORTS:
        return ""
    port = usb_port(name, model)
    if port is None:
        return f" (under none of the Raspberry Pi {model}'s USB ports: check-config refuses it)"
    return f" (the Pi's USB port {USB_PORTS[model].index(port) + 1} of 4: {port})"


def _ask_person(number: int) -> None:
    """A person plugs the adapter in; nothing to do but wait for it."""


def _simulated(adapters: SimulatedAdapters) -> Callable[[int], None]:
    def plug(number: int) -> None:
        def later() -> None:
            time.sleep(SIM_PAUSE_S)
            adapters.plug(number)

        threading.Thread(target=later, name=f"usb-map-{number}", daemon=True).start()

    return plug


def _write_config(path: Path, serials: dict[str, str], *, pi_model: str | None = None) -> None:
    """Replace the ``serial:`` values in the config's text (and ``station.pi_model``'s, when
    given and the config has one: without one the loader takes the machine's), keeping
    everything else, and check the result as the daemon will load it."""
    text = path.read_text(encoding="utf-8-sig")
    edits = []
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is None:
        raise ConfigError(f"{path}: config is empty")
    for item in root.value:
        if item[0].value == "station" and isinstance(item[1], yaml.MappingNode) and pi_model:
            for key, node in item[1].value:
                if key.value == "pi_model":  # quoted: YAML 1.1 reads a bare 5 as a number
                    edits.append((node.start_mark.index, node.end_mark.index, f'"{pi_model}"'))
        if item[0].value != "sockets":
            continue
        for socket in item[1].value:
            fields = {key.value: value for key, value in socket.value}
            name = fields["name"].value
            if name in serials:
                node = fields["serial"]
                edits.append((node.start_mark.index, node.end_mark.index, serials[name]))
    for start, end, value in sorted(edits, reverse=True):
        text = text[:start] + value + text[end:]
    parse_config(text, path, check_files=False)
    _write_atomic(path, text)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
