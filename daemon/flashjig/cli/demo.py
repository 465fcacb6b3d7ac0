"""``flashjig demo``: the first thing a newcomer sees. A simulated five-socket station
(the shipped wiring, emulated modules, the line-rate model so it takes as long as real
hardware) where modules are seated one after another, the button is pressed, and a live
view shows each socket flash and verify. ``--mixed``: a tray of ESP-01S and ESP32-C3
modules, one C3 on UART straps (its GPIO9 wired as the boot line) and one on its own USB
port, each chip flashed with its own images from one profile."""

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
from flashjig.config import Chip, Config, ImageSpec, SocketConfig, Trigger, load_config
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
MIXED_TITLE = (
    "flashjig demo --mixed: ESP-01S and ESP32-C3 modules in one tray (emulated modules, mock\n"
    "GPIO, the real esptool; socket2 a C3 on UART straps, socket4 a C3 on native USB)"
)
# --mixed: the sockets that hold an ESP32-C3, and whether on strap lines or native USB.
MIXED_C3 = {"socket2": "uart", "socket4": "usb"}


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
    demo.add_argument(
        "--mixed",
        action="store_true",
        help="a tray of ESP-01S and ESP32-C3 modules (one C3 on UART straps, one on native "
        "USB), each chip with its own images",
    )
    demo.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        return run_demo(args.config, args.state_dir, line_rate=not args.fast, mixed=args.mixed)
    except ConfigError as e:
        print(f"flashjig demo: {e}", file=sys.stderr)
        return ExitCode.BAD_INPUT


def demo_config(
    config_path: Path | None, firmware: Path, c3_images: tuple[ImageSpec, ...] = ()
) -> Config:
    """The given (or shipped) config, its active profile pointed at demo firmware; with
    ``c3_images``, the ESP32-C3's too, and the sockets of ``MIXED_C3`` holding C3s."""
    with importlib.resources.as_file(SHIPPED_CONFIG) as shipped:
        config = load_config(config_path or shipped, check_files=False)
    images = (ImageSpec(0, firmware), *c3_images)
    profile = dataclasses.replace(config.profile, images=images)
    sockets = config.sockets
    if c3_images:
        sockets = tuple(_holding_c3(s, MIXED_C3.get(s.name)) for s in sockets)
    profiles = {**config.profiles, profile.name: profile}
    return dataclasses.replace(config, profiles=profiles, sockets=sockets)


def _holding_c3(socket: SocketConfig, link: str | None) -> SocketConfig:
    if link == "uart":  # the same pins: the boot line goes to the C3's GPIO9
        return dataclasses.replace(socket, chip=Chip.ESP32C3)
    if link == "usb":
        return dataclasses.replace(
            socket, chip=Chip.ESP32C3, native_usb=True, boot=None, en=None, detect=None, power=None
        )
    return socket


def run_demo(
    config_path: Path | None,
    state_dir: Path | None,
    *,
    line_rate: bool = True,
    mixed: bool = False,
) -> int:
    from flashjig.emulator.firmware import build_esp32_firmware, build_firmware
    from flashjig.simulation.station import simulated_station

    with tempfile.TemporaryDirectory(prefix="flashjig-demo-") as tmp:
        state = state_dir or Path(tmp)
        firmware = Path(tmp) / "demo-firmware.bin"
        firmware.write_bytes(build_firmware(0x100000))
        c3_images = []
        if mixed:
            for offset, data in build_esp32_firmware(Chip.ESP32C3).items():
                path = Path(tmp) / f"c3-demo-{offset:#x}.bin"
                path.write_bytes(data)
                c3_images.append(ImageSpec(offset, path, None, Chip.ESP32C3))
        config = demo_config(config_path, firmware, tuple(c3_images))
        with simulated_station(config, state, line_rate=line_rate) as (station, hardware, _):
            return _show(station, hardware, MIXED_TITLE if mixed else TITLE)


class _Narrator:
    """Says what the demo is doing, one step at a time."""

    def __init__(self) -> None:
        self.line = "starting the simulated station"


def _script(
    station: Station, hardware: SimulatedHardware, done: threading.Event, say: _Narrator
) -> None:
    from flashjig.simulation.hardware import ModuleSpec

    for name, socket in station.sockets.items():
        if socket.config.native_usb:
            # Blank, a C3 comes up in its ROM loader over USB only with its boot button held.
            say.line = f"plugging a blank ESP32-C3 into {name}'s USB port, its boot button held"
            hardware.insert(name, ModuleSpec(boot_held=True))
        else:
            chip = "an ESP32-C3" if socket.config.chip == Chip.ESP32C3 else "an ESP-01S"
            say.line = f"seating {chip} in {name} (its detect switch closes)"
            hardware.insert(name)
        time.sleep(INSERT_GAP_S)
    time.sleep(0.3)
    if station.config.station.trigger != Trigger.INSERT:
        say.line = "pressing the station button"
        hardware.press()
    profile = station.config.profile
    chips = " and ".join(profile.chips)
    say.line = (
        f"flashing {len(station.images)} image(s) for {chips} at {profile.baud} baud, "
        "verifying by MD5, then booting the new firmware"
    )
    done.set()


def _show(station: Station, hardware: SimulatedHardware, title: str) -> int:
    from flashjig.station.status import SocketState

    tty = sys.stdout.isatty()
    scripted = threading.Event()
    say = _Narrator()
    threading.Thread(target=_script, args=(station, hardware, scripted, say), daemon=True).start()
    started = time.monotonic()
    seen: dict[str, str] = {}
    while True:
        status = station.status()
        if tty:
            view = render(status.as_dict(), colour=True)
            sys.stdout.write(f"\x1b[H\x1b[J{title}\n\n{view}\n\n  {say.line}\n")
        else:
            for s in status.sockets:
                if seen.get(s.name) != s.state:
                    seen[s.name] = s.state
                    print(f"{time.monotonic() - started:6.1f}s  {s.name}: {s.state}", flush=True)
        finished = all(s.state in (SocketState.OK, SocketState.FAILED) for s in status.sockets)
        if scripted.is_set() and finished:
            break
        time.sleep(0.25)
    elapsed = time.monotonic() - started
    results = [s.status for s in station.sockets.values()]
    ok = [r for r in results if r.state is SocketState.OK]
    print(f"\n{len(ok)} of {len(results)} modules flashed and verified in {elapsed:.1f} s:")
    for r in results:
        chip = station.config.socket(r.name).chip
        line = f"  {r.name}: {r.state.value}  {chip:8} {r.mac or '-'}"
        line += f"  {r.duration_s:.1f} s" if r.duration_s else ""
        line += f"  ({r.reason}: {r.detail})" if r.state is SocketState.FAILED else ""
        print(line)
    return ExitCode.OK if len(ok) == len(results) else ExitCode.FAILED
