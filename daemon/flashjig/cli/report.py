"""``flashjig report``: the morning after an overnight batch (flashjig.station.report)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from flashjig.cli.common import Subparsers, parse_since, reading_journal, state_dir
from flashjig.errors import ExitCode, JournalError, UsageError
from flashjig.station.report import render, units, units_csv


def add_parser(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    rp = sub.add_parser(
        "report",
        parents=[common],
        help="the morning after: ok and failed by reason and socket, throughput, units",
        description="Summarise the journal: counts by result, reason and socket, modules "
        "per hour, and the list of units (serial, MAC, client id, profile, result).",
    )
    rp.add_argument("--since", metavar="WHEN", help="as for 'flashjig history'")
    rp.add_argument("--csv", type=Path, metavar="FILE", help="also write the units to FILE")
    rp.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    return run_report(state_dir(args), since=args.since, csv_path=args.csv)


def run_report(state_dir: Path, *, since: str | None, csv_path: Path | None) -> int:
    try:
        start = parse_since(since) if since else None
        text, lines = reading_journal(
            state_dir, lambda journal: (render(journal, start), units(journal, start))
        )
    except UsageError as e:
        print(f"flashjig report: {e}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    except JournalError as e:
        print(f"flashjig report: {e}", file=sys.stderr)
        return ExitCode.FAILED
    print(text)
    if csv_path is not None:
        with open(csv_path, "w", newline="") as f:
            f.write(units_csv(lines))
        print(f"units written to {csv_path}")
    return ExitCode.OK
