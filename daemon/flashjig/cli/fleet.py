"""``flashjig fleet status`` and ``flashjig fleet report``: every station on one broker,
seen as one (flashjig.mqtt.fleet). The config's mqtt section names the broker and the
viewer's account (one that may read flashjig/#, such as the dashboard's); what was
gathered is kept in the state directory's fleet.sqlite3."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from typing import TYPE_CHECKING, Any

from flashjig.cli.common import Subparsers, load, parse_since, state_dir
from flashjig.errors import ExitCode, FleetError, UsageError

if TYPE_CHECKING:  # MQTT is loaded by the fleet commands only, not by every command
    from flashjig.mqtt.fleet import Fleet, StationView


def add_parser(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    fleet = sub.add_parser(
        "fleet",
        parents=[common],
        help="every station on the broker as one: live view and morning report",
        description="Gather every station's retained state and result events from the "
        "broker in the config's mqtt section (a persistent session: results published "
        "while the viewer is away wait for it, once it has looked once), then show them.",
    )
    actions = fleet.add_subparsers(dest="action", required=True, metavar="ACTION")
    status = actions.add_parser(
        "status",
        parents=[common],
        help="each station's sockets, and warnings (overlapping serial ranges)",
        description="Each station on the broker: online or not, its counts, its sockets.",
    )
    status.add_argument("--json", action="store_true", help="one JSON object")
    report = actions.add_parser(
        "report",
        parents=[common],
        help="every result of every station: counts by station and reason, each result",
        description="The morning report over all stations, from the results gathered.",
    )
    report.add_argument("--since", metavar="WHEN", help="as for 'flashjig history'")
    report.add_argument("--json", action="store_true", help="the results, as a JSON list")
    fleet.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        # A viewer has no images; the broker's files are read as it connects (FleetError).
        config = load(args, check_files=False)
        since = parse_since(args.since).timestamp() if getattr(args, "since", None) else None
    except UsageError as e:
        print(f"flashjig fleet: {e}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    if config.mqtt is None:
        print(f"flashjig fleet: {config.path}: no mqtt section (the broker)", file=sys.stderr)
        return ExitCode.BAD_INPUT
    from flashjig.mqtt.fleet import Fleet
    from flashjig.mqtt.fleetstore import FLEET_FILE

    try:
        fleet = Fleet(state_dir(args) / FLEET_FILE)
    except FleetError as e:
        print(f"flashjig fleet: {e}", file=sys.stderr)
        return ExitCode.FAILED
    try:
        try:
            fleet.gather(config.mqtt)
        finally:  # what was refused is said even when the look fails after it
            for note in fleet.notes:
                print(f"flashjig fleet: {note}", file=sys.stderr)
        if args.action == "status":
            return _status(fleet, as_json=args.json)
        return _report(fleet, since, as_json=args.json)
    except FleetError as e:
        print(f"flashjig fleet: {e}", file=sys.stderr)
        return ExitCode.FAILED
    finally:
        fleet.close()


def _status(fleet: Fleet, *, as_json: bool) -> int:
    """Lines with what stations sent in them go through one_line (each stays one line)."""
    from flashjig.mqtt.fleet import overlapping_ranges
    from flashjig.mqtt.incoming import one_line

    stations = fleet.stations()
    warnings = overlapping_ranges(stations)
    if as_json:
        print(json.dumps({"stations": [_as_dict(s) for s in stations], "warnings": warnings}))
        return ExitCode.OK
    if not stations:
        print("no station has reported to this broker")
    for station in stations:
        state = station.state
        print(
            one_line(
                f"station {station.id}  {'online' if station.online else 'OFFLINE'}  "
                f"profile {state.get('profile', '?')}  today {state.get('ok_today', 0)} ok / "
                f"{state.get('failed_today', 0)} failed  broker {state.get('broker', '?')}"
            )
        )
        for name, socket in sorted(station.sockets.items()):
            last = socket.get("last_result") or "-"
            if socket.get("reason"):
                last = f"{last}: {socket['reason']}"
            print(
                one_line(
                    f"  {name:<10} {socket.get('state', '?'):<9} "
                    f"{socket.get('progress', 0):5.1f}%  {socket.get('mac') or '-':<17}  {last}"
                )
            )
    for warning in warnings:
        print(one_line(f"! {warning}"))
    return ExitCode.OK


def _report(fleet: Fleet, since: float | None, *, as_json: bool) -> int:
    from flashjig.mqtt.incoming import one_line

    results = fleet.results(since)
    if as_json:
        print(json.dumps(results))
        return ExitCode.OK
    ok = [r for r in results if r.get("result") == "ok"]
    stations = {r["station"] for r in results}
    print(f"{len(results)} results from {len(stations)} stations: "
          f"{len(ok)} ok, {len(results) - len(ok)} not")  # fmt: skip
    print("by station (ok / not):")
    for station in sorted(stations):
        mine = [r for r in results if r.get("station") == station]
        good = sum(1 for r in mine if r.get("result") == "ok")
        print(one_line(f"  {station:<16} {good:5d} / {len(mine) - good}"))
    failures = Counter(r.get("reason") or r.get("result") for r in results if r not in ok)
    if failures:
        print("failures by reason:")
        for reason, n in failures.most_common():
            print(one_line(f"  {n:5d}  {reason}"))
    print("results:")
    for r in results:
        verdict = "ok" if r.get("result") == "ok" else f"{r.get('result')}: {r.get('reason')}"
        serial = "-" if r.get("serial") is None else str(r["serial"])
        where = f"{r.get('station')!s:<12} {r.get('socket')!s:<10}"
        print(
            one_line(
                f"  {r.get('finished_at') or '-':<24}  {where} {r.get('mac') or '-':<17}  "
                f"{serial:>6}  {verdict}"
            )
        )
    return ExitCode.OK


def _as_dict(station: StationView) -> dict[str, Any]:
    return {
        "id": station.id,
        "online": station.online,
        "state": station.state,
        "sockets": station.sockets,
    }
