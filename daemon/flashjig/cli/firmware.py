"""``flashjig firmware``: a firmware-like ESP8266 image for demos, tests and benchmarks."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from flashjig.cli.common import Subparsers
from flashjig.errors import ExitCode


def add_parser(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    fw = sub.add_parser(
        "firmware",
        parents=[common],
        help="build a firmware-like ESP8266 image for demos and tests",
        description="Write a valid ESP8266 image (esptool's image classes) to OUT.",
    )
    fw.add_argument("out", type=Path, metavar="OUT")
    fw.add_argument("--size", type=lambda s: int(s, 0), default=0x100000, metavar="BYTES")
    fw.add_argument("--banner", default="\r\nflashjig demo firmware 1.0\r\nready\r\n")
    fw.add_argument("--baud", type=int, default=115200, help="baud the firmware prints at")
    fw.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from flashjig.emulator.firmware import build_firmware

    try:
        data = build_firmware(args.size, banner=args.banner, baud=args.baud)
    except ValueError as e:
        print(f"flashjig firmware: {e}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    print(f"{args.out}: {len(data)} bytes")
    return ExitCode.OK
