"""``flashjig history``: the journal's attempts as a table, JSON or CSV.

Reads the journal readonly, so it is safe while the daemon runs.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from datetime import datetime
from pathlib import Path

from flashjig.cli.common import Subparsers, journal_rows, state_dir
from flashjig.errors import ExitCode, JournalError, UsageError
from flashjig.flashing.result import FAILED_OUTCOMES, Outcome
from flashjig.station.journal import ROW_KEYS, AttemptRow

FORMATS = ("table", "json", "csv")


def add_parser(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    hist = sub.add_parser(
        "history",
        parents=[common],
        help="list past attempts from the journal",
        description="Print the journal's attempts, oldest first.",
    )
    hist.add_argument(
        "--since", metavar="WHEN", help="2026-11-25, 2026-11-25T08:00, today, yesterday, 12h, 2d"
    )
    out = hist.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true")
    out.add_argument("--csv", action="store_true")
    hist.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    fmt = "json" if args.json else "csv" if args.csv else "table"
    return run_history(state_dir(args), since=args.since, fmt=fmt)


def format_table(rows: list[AttemptRow]) -> str:
    """A table for people: local times, one attempt a line, and a count at the end."""
    header = ("TIME", "SOCKET", "RESULT", "REASON", "MAC", "SIZE", "DURATION")
    lines = [header]
    for row in rows:
        lines.append(
            (
                _local_time(row.started_at),
                row.socket,
                row.result,
                row.reason or "-",
                row.mac or "-",
                row.flash_size or "-",
                "-" if row.duration_s is None else f"{row.duration_s:.1f}s",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    ]
    text.append(_summary(rows))
    return "\n".join(text) + "\n"


def format_csv(rows: list[AttemptRow]) -> str:
    """CSV with a header row, the journal's columns in order; images as a JSON string."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=ROW_KEYS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row.as_dict(), "images": json.dumps(row.images)})
    return out.getvalue()


def format_json(rows: list[AttemptRow]) -> str:
    return json.dumps([row.as_dict() for row in rows], indent=2)


def run_history(state_dir: Path, *, since: str | None, fmt: str) -> int:
    """Print the journal's attempts; 0, or 1 without a readable journal, 2 on bad input."""
    if fmt not in FORMATS:
        print(f"flashjig history: unknown format {fmt!r}; use one of {FORMATS}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    try:
        rows = journal_rows(Path(state_dir), since)
    except UsageError as e:
        print(f"flashjig history: {e}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    except JournalError as e:
        print(f"flashjig history: {e}", file=sys.stderr)
        return ExitCode.FAILED
    if fmt == "json":
        sys.stdout.write(format_json(rows) + "\n")
    elif fmt == "csv":
        sys.stdout.write(format_csv(rows))
    else:
        sys.stdout.write(format_table(rows))
    return ExitCode.OK


def _local_time(stamp: str) -> str:
    return datetime.fromisoformat(stamp).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _summary(rows: list[AttemptRow]) -> str:
    ok = sum(row.result is Outcome.OK for row in rows)
    failed = sum(row.result in FAILED_OUTCOMES for row in rows)
    text = f"{len(rows)} attempts: {ok} ok, {failed} failed"
    running = len(rows) - ok - failed
    return text + (f", {running} in progress" if running else "")
