"""``flashjig history``: the journal's attempts as a table, JSON or CSV.

Reads the journal readonly, so it is safe while the daemon runs.
"""

import csv
import io
import json
import re
import sqlite3
import sys
from datetime import datetime, time, timedelta
from pathlib import Path

from flashjig.journal import FAILED_RESULTS, JOURNAL_FILE, ROW_KEYS, Journal

FORMATS = ("table", "json", "csv")
SINCE_HELP = (
    "a date (2026-11-25), a date and time (2026-11-25T08:00, local unless it ends in Z or "
    "an offset), today, yesterday, or an age such as 90m, 12h, 2d, 1w"
)
_AGE = re.compile(r"(\d+)\s*([mhdw])")
_AGE_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, *, now: datetime | None = None) -> datetime:
    """The moment ``text`` names, timezone-aware; naive dates and times are local."""
    now = (now or datetime.now()).astimezone()
    word = text.strip().lower()
    if word in ("today", "yesterday"):
        day = now.date() - timedelta(days=1 if word == "yesterday" else 0)
        # Through naive local midnight, so a DST change that day gives the right offset.
        return datetime.combine(day, time()).astimezone()
    age = _AGE.fullmatch(word)
    if age:
        return now - timedelta(**{_AGE_UNITS[age[2]]: int(age[1])})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"--since: cannot read {text!r}; use {SINCE_HELP}") from None
    return moment.astimezone()


def format_table(rows: list[dict]) -> str:
    """A table for people: local times, one attempt a line, and a count at the end."""
    header = ("TIME", "SOCKET", "RESULT", "REASON", "MAC", "SIZE", "DURATION")
    lines = [header]
    for row in rows:
        lines.append(
            (
                _local_time(row["started_at"]),
                row["socket"],
                row["result"],
                row["reason"] or "-",
                row["mac"] or "-",
                row["flash_size"] or "-",
                "-" if row["duration_s"] is None else f"{row['duration_s']:.1f}s",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    ]
    text.append(_summary(rows))
    return "\n".join(text) + "\n"


def format_csv(rows: list[dict]) -> str:
    """CSV with a header row; images as a JSON string; columns added later come last."""
    keys = list(ROW_KEYS)
    for row in rows:
        keys.extend(key for key in row if key not in keys)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "images": json.dumps(row.get("images", []))})
    return out.getvalue()


def format_json(rows: list[dict]) -> str:
    return json.dumps(rows, indent=2)


def run_history(state_dir: Path, *, since: str | None, fmt: str) -> int:
    """Print the journal's attempts; 0, or 1 without a readable journal, 2 on bad input."""
    if fmt not in FORMATS:
        print(f"flashjig history: unknown format {fmt!r}; use one of {FORMATS}", file=sys.stderr)
        return 2
    try:
        start = parse_since(since) if since is not None else None
    except ValueError as e:
        print(f"flashjig history: {e}", file=sys.stderr)
        return 2
    path = Path(state_dir) / JOURNAL_FILE
    try:
        with Journal(path, readonly=True) as journal:
            rows = journal.attempts(since=start)
    except FileNotFoundError:
        print(f"flashjig history: no journal at {path} (has the station run?)", file=sys.stderr)
        return 1
    except sqlite3.Error as e:
        print(f"flashjig history: cannot read the journal at {path}: {e}", file=sys.stderr)
        return 1
    if fmt == "json":
        sys.stdout.write(format_json(rows) + "\n")
    elif fmt == "csv":
        sys.stdout.write(format_csv(rows))
    else:
        sys.stdout.write(format_table(rows))
    return 0


def _local_time(stamp: str) -> str:
    return datetime.fromisoformat(stamp).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _summary(rows: list[dict]) -> str:
    ok = sum(row["result"] == "ok" for row in rows)
    failed = sum(row["result"] in FAILED_RESULTS for row in rows)
    text = f"{len(rows)} attempts: {ok} ok, {failed} failed"
    running = len(rows) - ok - failed
    return text + (f", {running} in progress" if running else "")
