"""``flashjig report``: the morning after an overnight batch.

How many modules came out ok and how many failed, why and in which socket, the
throughput per hour, and the list of units (serial, MAC, client id, profile, result) to
print labels from.
"""

import csv
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path

from flashjig.history import parse_since
from flashjig.journal import FAILED_RESULTS, JOURNAL_FILE, Journal

UNIT_FIELDS = ("serial", "mac", "client_id", "profile", "result", "reason", "socket", "finished_at")


def units(rows: list[dict]) -> list[dict]:
    """One line per module (by MAC): its last finished attempt."""
    last: dict[str, dict] = {}
    for row in rows:
        if row["mac"] and row["result"] != "started":
            last[row["mac"]] = row
    return sorted(last.values(), key=lambda r: (r["serial"] is None, r["serial"] or 0, r["id"]))


def _hours(rows: list[dict]) -> float:
    stamps = [datetime.fromisoformat(r["started_at"].replace("Z", "+00:00")) for r in rows]
    ends = [
        datetime.fromisoformat(r["finished_at"].replace("Z", "+00:00"))
        for r in rows
        if r["finished_at"]
    ]
    if not stamps or not ends:
        return 0.0
    return max((max(ends) - min(stamps)).total_seconds() / 3600, 1 / 60)


def render(rows: list[dict]) -> str:
    finished = [r for r in rows if r["result"] != "started"]
    ok = [r for r in finished if r["result"] == "ok"]
    failed = [r for r in finished if r["result"] in FAILED_RESULTS]
    unit_rows = units(rows)
    good_units = sum(1 for u in unit_rows if u["result"] == "ok")
    hours = _hours(finished)
    lines = [
        f"{len(finished)} attempts: {len(ok)} ok, {len(failed)} failed; "
        f"{len(unit_rows)} modules, {good_units} good",
    ]
    if hours:
        lines.append(f"throughput: {len(ok) / hours:.1f} modules per hour over {hours:.2f} h")
    if failed:
        lines.append("failures by reason:")
        for reason, n in Counter(r["reason"] or r["result"] for r in failed).most_common():
            lines.append(f"  {n:5d}  {reason}")
    lines.append("by socket (ok / failed):")
    sockets = sorted({r["socket"] for r in finished})
    for name in sockets:
        n_ok = sum(1 for r in ok if r["socket"] == name)
        n_failed = sum(1 for r in failed if r["socket"] == name)
        lines.append(f"  {name:<10} {n_ok:5d} / {n_failed}")
    lines.append("units:")
    lines.append(f"  {'SERIAL':>6}  {'MAC':<17}  {'CLIENT ID':<16}  {'PROFILE':<12}  RESULT")
    for u in unit_rows:
        serial = "-" if u["serial"] is None else str(u["serial"])
        result = u["result"] if u["result"] == "ok" else f"{u['result']}: {u['reason']}"
        lines.append(
            f"  {serial:>6}  {u['mac']:<17}  {u['client_id'] or '-':<16}  "
            f"{u['profile']:<12}  {result}"
        )
    return "\n".join(lines)


def run_report(state_dir: Path, *, since: str | None, csv_path: Path | None) -> int:
    try:
        when = parse_since(since) if since else None
    except ValueError as e:
        print(f"flashjig report: {e}", file=sys.stderr)
        return 2
    path = state_dir / JOURNAL_FILE
    try:
        with Journal(path, readonly=True) as journal:
            rows = journal.attempts(since=when)
    except FileNotFoundError:
        print(f"flashjig report: no journal at {path} (has the station run?)", file=sys.stderr)
        return 1
    print(render(rows))
    if csv_path is not None:
        with open(csv_path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=UNIT_FIELDS, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(units(rows))
        print(f"units written to {csv_path}")
    return 0
