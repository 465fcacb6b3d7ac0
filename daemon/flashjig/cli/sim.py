"""``flashjig sim``: emulated modules on pseudo terminals, for esptool or the station."""

from __future__ import annotations

import argparse
import sys

from flashjig.cli.common import Subparsers
from flashjig.config import Chip
from flashjig.config.model import DEFAULT_CHIP
from flashjig.config.sizes import NAMES as SIZES
from flashjig.emulator.uart import AUTOBAUD_MAX
from flashjig.errors import ExitCode

# The chips a profile names, every one of which flashjig.emulator.chips models; named here
# so --help does not load esptool. Their values: argparse quotes a bad choice's choices by
# repr.
EMULATED_CHIPS = tuple(chip.value for chip in Chip)


def add_parser(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    sim = sub.add_parser(
        "sim",
        parents=[common],
        help="serve emulated modules (ESP8266, ESP32, ESP32-C3, ESP32-S3) on pseudo terminals",
        description="Start N emulated modules waiting in download mode. Prints "
        "'NAME DEVICE' per module, then 'ready'; serves until SIGINT or SIGTERM.",
    )
    sim.add_argument("--modules", type=int, default=1, metavar="N")
    sim.add_argument(
        "--chip",
        choices=EMULATED_CHIPS,
        default=DEFAULT_CHIP,
        help=f"the chip every module carries (default {DEFAULT_CHIP})",
    )
    sim.add_argument("--flash-size", choices=SIZES, default="1MB")
    sim.add_argument(
        "--claimed-size",
        choices=SIZES,
        help="counterfeit: JEDEC id claims this size, addresses wrap at --flash-size",
    )
    sim.add_argument(
        "--line-rate",
        action="store_true",
        help="model wire time (10 bits/byte) and datasheet flash times",
    )
    sim.add_argument(
        "--autobaud-max",
        type=int,
        default=AUTOBAUD_MAX,
        metavar="BAUD",
        help="the highest rate the ROM syncs at; above it, it hears noise "
        f"(default {AUTOBAUD_MAX})",
    )
    sim.add_argument(
        "--adapter-max-baud",
        type=int,
        metavar="BAUD",
        help="the USB-serial adapter's highest reliable rate; above it, every byte "
        "garbles both ways (default: no limit)",
    )
    sim.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from flashjig.simulation.modules import serve_modules

    if args.modules < 1:
        print("flashjig sim: --modules must be at least 1", file=sys.stderr)
        return ExitCode.BAD_INPUT
    return serve_modules(
        args.modules,
        chip=Chip(args.chip),
        flash_size=args.flash_size,
        claimed_size=args.claimed_size,
        line_rate=args.line_rate,
        state_dir=args.state_dir,
        autobaud_max=args.autobaud_max,
        adapter_max_baud=args.adapter_max_baud,
    )
