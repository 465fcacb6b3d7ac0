"""The ``flashjig`` command: one module per subcommand, each with its parser and its
handler side by side, every one taking --config and --state-dir anywhere after its name.
argparse lives in this package only; the layers below take plain values."""

from __future__ import annotations

import argparse
import logging
import sys

from flashjig import __version__
from flashjig.cli import (
    backups,
    check_config,
    ctl,
    demo,
    firmware,
    flash,
    fleet,
    history,
    labels,
    lgpio_workdir,
    probe,
    report,
    restore,
    run,
    sim,
    status,
    usb_map,
)
from flashjig.cli.common import common_options

# In the order `flashjig --help` lists them.
COMMANDS = (
    sim,
    flash,
    demo,
    run,
    status,
    history,
    ctl,
    restore,
    backups,
    report,
    labels,
    fleet,
    check_config,
    usb_map,
    probe,
    firmware,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flashjig", description="Headless flashing station for Espressif modules."
    )
    parser.add_argument("--version", action="version", version=f"flashjig {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = common_options()
    for command in COMMANDS:
        command.add_parser(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Before any command builds hardware: lgpio's notification FIFO in a writable directory
    # of its own, not the caller's current one (lgpio_workdir.py).
    lgpio_workdir.prepare()
    if args.command != "run":  # the daemon sets up its own logging (journald)
        logging.basicConfig(
            level=logging.WARNING, format="flashjig: %(levelname)s: %(message)s", stream=sys.stderr
        )
    code: int = args.handler(args)
    return code
