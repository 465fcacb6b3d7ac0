"""``flashjig ctl``: one command to the running station (flash, cancel, drain, resume,
profile, reload; insert, remove and press when it is simulated)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from flashjig.cli.common import Subparsers, station_socket
from flashjig.emulator.faults import FAULT_NAMES
from flashjig.errors import ControlError, ExitCode
from flashjig.station.control import request

DRAIN_TIMEOUT_S = 600.0  # a 4 MB module at a low fallback baud, retried, with time to spare
DRAIN_POLL_S = 0.5


def add_parser(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    ctl = sub.add_parser(
        "ctl",
        parents=[common],
        help="drive the running station: flash, cancel; insert/remove/press when simulated",
        description="Send one command to the running station.",
    )
    ctl.set_defaults(handler=run)
    actions = ctl.add_subparsers(dest="action", required=True, metavar="ACTION")
    for action, text in (
        ("insert", "seat a module (simulated station)"),
        ("remove", "take a module out (simulated station)"),
    ):
        p = actions.add_parser(action, parents=[common], help=text, description=text)
        p.add_argument("socket", metavar="SOCKET")
        if action == "insert":
            p.add_argument(
                "--fault",
                choices=FAULT_NAMES,
                default="none",
                help="a faulty module: never syncs, goes silent while written, garbles "
                "its line, or resets once running",
            )
    p = actions.add_parser(
        "press",
        parents=[common],
        help="press the station button (simulated)",
        description="Press the simulated station button.",
    )
    p.add_argument(
        "--hold",
        type=float,
        default=0.15,
        metavar="SECONDS",
        help="hold this long (past the hold time: cancel running flashes)",
    )
    p = actions.add_parser(
        "flash",
        parents=[common],
        help="flash one socket or all ready ones",
        description="Start flashing (like a button press).",
    )
    p.add_argument("socket", nargs="?", metavar="SOCKET")
    p = actions.add_parser(
        "cancel",
        parents=[common],
        help="cancel running flashes, or one socket's",
        description="Cancel running flashes (like a long press), or only SOCKET's.",
    )
    p.add_argument("socket", nargs="?", metavar="SOCKET")
    p = actions.add_parser(
        "drain",
        parents=[common],
        help="take no new module and wait for the flashes in progress (before an upgrade)",
        description="The station takes no new module; wait until no socket is flashing. "
        "Exit 0 when none is; 1 when one still is after --timeout (the station then takes "
        "modules again). The daemon's next start takes modules as usual.",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=DRAIN_TIMEOUT_S,
        metavar="SECONDS",
        help=f"give up after this long (default {DRAIN_TIMEOUT_S:.0f})",
    )
    p.add_argument("--why", default="asked to drain", metavar="TEXT", help="said in the log")
    actions.add_parser(
        "resume",
        parents=[common],
        help="take modules again after a drain",
        description="Undo 'ctl drain': the station takes new modules again.",
    )
    p = actions.add_parser(
        "profile",
        parents=[common],
        help="make another of the config's profiles active",
        description="Make another of the config's profiles active (its images checked "
        "first); flashes in progress finish with the old one. Until a restart or reload.",
    )
    p.add_argument("name", metavar="PROFILE")
    actions.add_parser(
        "reload",
        parents=[common],
        help="reload the config (like SIGHUP)",
        description="Reload the station's config file.",
    )


def payload(args: argparse.Namespace) -> dict[str, Any]:
    """The control request the command line asks for."""
    message: dict[str, Any] = {"cmd": args.action}
    if args.action in ("insert", "remove") or args.action in ("flash", "cancel") and args.socket:
        message["socket"] = args.socket
    if args.action == "insert":
        message["fault"] = args.fault
    elif args.action == "press":
        message["hold"] = args.hold
    elif args.action == "drain":
        message["why"] = args.why
    elif args.action == "profile":
        message["name"] = args.name
    return message


def run(args: argparse.Namespace) -> int:
    if args.action == "drain":
        return drain(args)
    try:
        answer = request(
            station_socket(args), payload(args), timeout=max(30.0, getattr(args, "hold", 0) + 10)
        )
    except ControlError as e:
        print(f"flashjig ctl {args.action}: {e}", file=sys.stderr)
        return ExitCode.FAILED
    answer.pop("ok", None)
    if answer:
        print(json.dumps(answer))
    return ExitCode.OK


def drain(args: argparse.Namespace) -> int:
    """Ask for a drain until no socket is busy; at the timeout, undo it and fail."""
    path = station_socket(args)
    deadline = time.monotonic() + args.timeout
    said: list[str] | None = None
    try:
        while True:
            busy = request(path, payload(args))["busy"]
            if not busy:
                return ExitCode.OK
            if busy != said:
                print(f"flashjig ctl drain: waiting for {', '.join(busy)}", file=sys.stderr)
                said = busy
            if time.monotonic() >= deadline:
                request(path, {"cmd": "resume"})
                print(
                    f"flashjig ctl drain: {', '.join(busy)} still flashing after "
                    f"{args.timeout:g} s; the station takes modules again",
                    file=sys.stderr,
                )
                return ExitCode.FAILED
            time.sleep(DRAIN_POLL_S)
    except ControlError as e:
        print(f"flashjig ctl drain: {e}", file=sys.stderr)
        return ExitCode.FAILED
