"""``flashjig backups``: the read-back backups kept in the state directory."""

from __future__ import annotations

import argparse
import json
import sys

from flashjig.cli.common import WHO_MAY, Subparsers, state_dir
from flashjig.errors import ExitCode
from flashjig.flashing.backups import list_backups


def add_parser(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    bk = sub.add_parser(
        "backups",
        parents=[common],
        help="list the read-back backups kept in the state directory",
        description="List backups (one per MAC and time) taken before modules were written.",
    )
    bk.add_argument("--json", action="store_true")
    bk.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    state = state_dir(args)
    try:
        kept = list_backups(state)
    except PermissionError:
        print(f"flashjig backups: not allowed to read {state}: {WHO_MAY}", file=sys.stderr)
        return ExitCode.FAILED
    if args.json:
        print(json.dumps(kept, indent=2))
        return ExitCode.OK
    print(f"{'TIME':<20}  {'MAC':<17}  {'SOCKET':<10}  {'SIZE':>8}  FILE")
    for b in kept:
        print(f"{b['time']:<20}  {b['mac']:<17}  {b['socket']:<10}  {b['size']:>8}  {b['path']}")
    print(f"{len(kept)} backups")
    return ExitCode.OK
