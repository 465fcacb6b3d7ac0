"""``flashjig restore``: write a read-back backup onto the module in a socket."""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

from flashjig.cli.common import Subparsers, load
from flashjig.cli.flash import add_simulation_options, flash_with
from flashjig.config import ImageSpec, Profile
from flashjig.errors import ConfigError, ExitCode, UsageError
from flashjig.flashing.images import Image


def add_parser(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    rs = sub.add_parser(
        "restore",
        parents=[common],
        help="write a backup back onto the module in a socket",
        description="Write FILE (a backup from 'flashjig backups') at 0x0 of the module in "
        "SOCKET and verify it; prints one JSON result like 'flashjig flash'.",
    )
    rs.add_argument("file", type=Path, metavar="FILE")
    rs.add_argument("--socket", required=True, metavar="NAME")
    add_simulation_options(rs)
    rs.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Write a backup back: the raw dump at 0x0, verified, no image checks (a backup of a
    bricked module is not a valid image, and that is the point)."""
    try:
        config = load(args)
        socket = config.socket(args.socket)
        data = args.file.read_bytes()
    except (UsageError, ConfigError) as e:
        print(f"flashjig restore: {e}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    except OSError as e:
        print(f"flashjig restore: cannot read {args.file}: {e.strerror}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    profile = Profile(name="restore", images=(ImageSpec(0, args.file),))
    image = Image(0, args.file, data, hashlib.sha256(data).hexdigest())
    return flash_with(args, config, socket, profile, (image,))
