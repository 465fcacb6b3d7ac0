"""``flashjig status``: the running station's sockets, through its control socket."""

from __future__ import annotations

import argparse
import json
import sys
import time

from flashjig.cli.common import Subparsers, station_socket
from flashjig.cli.statusview import render
from flashjig.errors import ControlError, ExitCode
from flashjig.station.control import request


def add_parser(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    st = sub.add_parser(
        "status",
        parents=[common],
        help="show the running station's sockets",
        description="Ask the running station for its state through its control socket.",
    )
    view = st.add_mutually_exclusive_group()
    view.add_argument("--json", action="store_true", help="machine-readable")
    view.add_argument("--watch", action="store_true", help="live view until Ctrl-C")
    st.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    path = station_socket(args)
    try:
        if args.json:
            print(json.dumps(request(path, {"cmd": "status"})["status"], indent=2))
            return ExitCode.OK
        if not args.watch:
            colour = sys.stdout.isatty()
            print(render(request(path, {"cmd": "status"})["status"], colour=colour))
            return ExitCode.OK
        while True:
            view = render(request(path, {"cmd": "status"})["status"], colour=True)
            sys.stdout.write("\x1b[H\x1b[J" + view + "\n(Ctrl-C to stop watching)\n")
            sys.stdout.flush()
            time.sleep(0.5)
    except ControlError as e:
        print(f"flashjig status: {e}", file=sys.stderr)
        return ExitCode.FAILED
    except KeyboardInterrupt:
        return ExitCode.OK
