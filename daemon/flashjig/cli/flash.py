"""``flashjig flash``: the pipeline once, on one socket, outside the station. Also what
``flashjig restore`` writes a backup with."""

from __future__ import annotations

import argparse
import json
import sys

from flashjig.cli.common import Subparsers, load, progress_printer, state_dir
from flashjig.cli.hardware_choice import choose_hardware
from flashjig.config import Config, Profile, SocketConfig
from flashjig.config.sizes import NAMES as SIZES
from flashjig.errors import ConfigError, ExitCode, ImageError, UsageError
from flashjig.flashing.images import Image, load_images
from flashjig.flashing.pipeline import FlashJob, flash
from flashjig.flashing.rates import FastConnect
from flashjig.hardware.socket_lines import SocketLines


def add_parser(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    fl = sub.add_parser(
        "flash",
        parents=[common],
        help="flash the active profile onto the module in one socket, once",
        description="Run the flash pipeline once for one socket and print one JSON object "
        "(socket, result, reason, mac, flash_size, bytes, duration_s, ...). Exit 0 only "
        "when the module is written and verified, 1 when it failed, 2 on bad input.",
    )
    fl.add_argument("--socket", required=True, metavar="NAME")
    add_simulation_options(fl)
    fl.set_defaults(handler=run)


def add_simulation_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--simulate",
        action="store_true",
        help="mock pins and an emulated module in place of the socket's serial device",
    )
    parser.add_argument(
        "--sim-flash-size",
        choices=SIZES,
        help="with --simulate: flash size of the emulated module (default 1MB on an "
        "ESP8266, 4MB on the ESP32s)",
    )
    parser.add_argument("--line-rate", action="store_true", help="with --simulate: model wire time")


def run(args: argparse.Namespace) -> int:
    try:
        config = load(args)
        socket = config.socket(args.socket)
        images = load_images(config.profile)
    except (UsageError, ConfigError, ImageError) as e:
        print(f"flashjig flash: {e}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    if config.profile.identity is not None:
        print(
            f"flashjig flash: profile {config.profile.name} gives each unit a serial from the "
            "station's journal: flash those units with the station (flashjig run)",
            file=sys.stderr,
        )
        return ExitCode.BAD_INPUT
    return flash_with(args, config, socket, config.profile, images)


def flash_with(
    args: argparse.Namespace,
    config: Config,
    socket: SocketConfig,
    profile: Profile,
    images: tuple[Image, ...],
) -> int:
    """Power the socket, run the pipeline, print its result as JSON; 0 when it is ok."""
    hardware = choose_hardware(config, args, seat=socket.name)
    try:
        lines = SocketLines.on(hardware, socket)
        try:
            lines.power_on()
            job = FlashJob.for_socket(
                socket,
                port=hardware.port(socket.name),
                straps=lines.straps,
                profile=profile,
                images=images,
                station=config.station.id,
                state_dir=state_dir(args),
                on_progress=progress_printer(sys.stderr),
                fast=FastConnect.allowed(config.station.sync_baud, config.station.rom_baud_change),
            )
            result = flash(job)
        finally:
            lines.close()
    finally:
        hardware.close()
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    print(json.dumps(result.as_dict()))
    return ExitCode.OK if result.ok else ExitCode.FAILED
