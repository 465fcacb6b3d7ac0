"""``flashjig demo``: the first thing a newcomer sees. A simulated five-socket station
(the shipped wiring, emulated modules, the line-rate model so it takes as long as real
hardware) where modules are seated one after another, the button is pressed, and a live
view shows each socket flash and verify."""

from __future__ import annotations

import argparse
import dataclasses
import importlib.resources
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from flashjig.cli.common import Subparsers
from flashjig.cli.statusview import render
from flashjig.config import Config, ImageSpec, load_config
from flashjig.errors import ConfigError, ExitCode

if TYPE_CHECKING:  # the station and the emulator are loaded by the demo, not every command
    from flashjig.simulation.hardware import SimulatedHardware
    from flashjig.station.station import Station

# The sample config (config/flashjig.yaml), package data so that a wheel has it too.
SHIPPED_CONFIG = importlib.resources.files("flashjig") / "examples" / "flashjig.yaml"
INSERT_GAP_S = 0.4
TITLE = (
    "flashjig demo: a simulated 5-socket ESP-01S station (emulated modules, mock GPIO,\n"
    "the real esptool; wire and flash times modelled as on real hardware)"
)


def add_parser(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    demo = sub.add_parser(
        "demo",
        parents=[common],
        help="watch a simulated 5-socket station flash modules (start here)",
        description="A simulated station: modules are seated one by one, the button is "
        "pressed, and every socket flashes and verifies while you watch. Exit 0 when all "
        "modules are verified.",
    )
    demo.add_argument(
        "--fast", action="store_true", help="skip the line-rate model (finishes in seconds)"
    )
    demo.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        return run_demo(args.config, args.state_dir, line_rate=not args.fast)
    except ConfigError as e:
        print(f"flashjig demo: {e}", file=sys.stderr)
        return ExitCode.BAD_INPUT


def demo_config(config_path: Path | None, firmware: Path) -> Config:
    """The given (or shipped) config, its active profile pointed at demo firmware."""
    with importlib.resources.as_file(SHIPPED_CONFIG) as shipped:
        config = load_config(config_path or shipped, check_files=False)
    profile = dataclasses.replace(config.profile, images=(ImageSpec(0, firmware),))
    return dataclasses.replace(config, profiles={**config.profiles, profile.name: profile})


def run_demo(config_path: Path | None, state_dir: Path | None, *, line_rate: bool = True) -> int:
    from flashjig.emulator.firmware import build_firmware
    from flashjig.simulation.station import simulated_station

    with tempfile.TemporaryDirectory(prefix="flashjig-demo-") as tmp:
        state = state_dir or Path(tmp)
        firmware = Path(tmp) / "demo-firmware.bin"
        firmware.write_bytes(build_firmware(0x100000))
        config = demo_config(config_path, firmware)
        with simulated_station(config, state, line_rate=line_rate) as (station, hardware, _):
            return _show(station, hardware)


class _Narrator:
    """Says what the demo is doing, one step at a time."""

    def __init__(self) -> None:
        self.line = "starting the simulated station"


def _script(
    station: Station, hardware: SimulatedHardware, done: threading.Event, say: _Narrator
) -> None:
    for name in station.sockets:
        say.line = f"seating a module in {name} (its detect switch closes)"
        hardware.insert(name)
        time.sleep(INSERT_GAP_S)
    time.sleep(0.3)
    if station.config.station.trigger != "insert":
        say.line = "pressing the station button"
        hardware.press()
    profile = station.config.profile
    say.line = (
        f"flashing {len(station.images)} image(s) at {profile.baud} baud, "
        "verifying by MD5, then booting the new firmware"
    )
    done.set()


def _show(station: Station, hardware: SimulatedHardware) -> int:
    from flashjig.station.socket import SocketState

    tty = sys.stdout.isatty()
    scripted = threading.Event()
    say = _Narrator()
    threading.Thread(target=_script, args=(station, hardware, scripted, say), daemon=True).start()
    started = time.monotonic()
    seen: dict[str, str] = {}
    while True:
        status = station.status()
        if tty:
            view = render(status, colour=True)
            sys.stdout.write(f"\x1b[H\x1b[J{TITLE}\n\n{view}\n\n  {say.line}\n")
        else:
            for s in status["sockets"]:
                if seen.get(s["name"]) != s["state"]:
                    seen[s["name"]] = s["state"]
                    print(
                        f"{time.monotonic() - started:6.1f}s  {s['name']}: {s['state']}", flush=True
                    )
        finished = all(
            s.status.state in (SocketState.OK, SocketState.FAILED) for s in station.sockets.values()
        )
        if scripted.is_set() and finished:
            break
        time.sleep(0.25)
    elapsed = time.monotonic() - started
    results = [s.status for s in station.sockets.values()]
    ok = [r for r in results if r.state is SocketState.OK]
    print(f"\n{len(ok)} of {len(results)} modules flashed and verified in {elapsed:.1f} s:")
    for r in results:
        line = f"  {r.name}: {r.state.value}  {r.mac or '-'}"
        line += f"  {r.duration_s:.1f} s" if r.duration_s else ""
        line += f"  ({r.reason}: {r.detail})" if r.state is SocketState.FAILED else ""
        print(line)
    return ExitCode.OK if len(ok) == len(results) else ExitCode.FAILED
