"""``flashjig report``: the morning after an overnight batch.

How many modules came out ok and how many failed, why and in which socket, the
throughput per hour, and the list of units (serial, MAC, client id, profile, result) to
print labels from.
"""

import csv
import io
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from flashjig.flashing.result import FAILED_OUTCOMES, Outcome
from flashjig.station.journal import Journal, ModuleRow, Tally

UNIT_FIELDS = ("serial", "mac", "client_id", "profile", "result", "reason", "socket", "finished_at")


def units(journal: Journal, since: datetime | None = None) -> list[ModuleRow]:
    """One line per module: every unit the journal handed a serial, and every other module
    (by MAC) an attempt finished on, each with its last finished attempt; by serial."""
    return _by_serial(journal.modules(since=since)[2])


def units_csv(lines: Iterable[ModuleRow]) -> str:
    """The units as CSV, a header of UNIT_FIELDS first: what ``flashjig report --csv``
    writes and the status page hands out, one writer for both."""
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=UNIT_FIELDS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(unit.as_dict() for unit in lines)
    return out.getvalue()


def _by_serial(lines: list[ModuleRow]) -> list[ModuleRow]:
    return sorted(lines, key=lambda u: (u.serial is None, u.serial or 0, u.mac))


def _hours(tallies: list[Tally]) -> float:
    """From the first finished attempt's start to the last one's end, in hours."""
    first = min((t.first_started for t in tallies), default=None)
    last = max((t.last_finished for t in tallies if t.last_finished), default=None)
    if first is None or last is None:
        return 0.0
    start, end = (datetime.fromisoformat(t.replace("Z", "+00:00")) for t in (first, last))
    return max((end - start).total_seconds() / 3600, 1 / 60)


def summary(
    journal: Journal, since: datetime | None = None, *, units_limit: int | None = None
) -> dict[str, Any]:
    """The report as data (the status page's JSON, and what ``render`` writes out): counts,
    throughput, failures by reason, ok and failed by socket and by hour, the units (the
    ``units_limit`` most recent of them; ``modules`` says how many there are). Added up by
    the journal's SQL, never a row at a time in Python: the same cost on day 1 and day 700."""
    tallies = journal.tallies(since=since)
    modules, good, lines = journal.modules(since=since, limit=units_limit)
    hours = _hours(tallies)
    ok = sum(t.count for t in tallies if t.result == Outcome.OK)
    failed_reasons: Counter[str] = Counter()
    by_socket: dict[str, dict[str, int]] = {}
    per_hour: dict[str, dict[str, int]] = {}
    for t in tallies:
        key = "ok" if t.result == Outcome.OK else "failed"
        if t.result in FAILED_OUTCOMES:
            failed_reasons[t.reason or t.result] += t.count
        counts = by_socket.setdefault(t.socket, {"ok": 0, "failed": 0})
        if t.result == Outcome.OK or t.result in FAILED_OUTCOMES:
            counts[key] += t.count
        per_hour.setdefault(t.hour, {"ok": 0, "failed": 0})[key] += t.count
    return {
        "attempts": sum(t.count for t in tallies),
        "ok": ok,
        "failed": sum(failed_reasons.values()),
        "modules": modules,
        "good": good,
        "hours": round(hours, 3),
        "per_hour_rate": round(ok / hours, 1) if hours else None,
        "by_reason": dict(failed_reasons.most_common()),
        "by_socket": {name: by_socket[name] for name in sorted(by_socket)},
        "per_hour": [{"hour": hour, **counts} for hour, counts in sorted(per_hour.items())],
        "units": [u.as_dict() for u in _by_serial(lines)],
    }


def render(journal: Journal, since: datetime | None = None) -> str:
    """The report as text: counts, throughput, failures by reason, sockets, units (every
    unit handed a serial, whether an attempt with it finished or not)."""
    data = summary(journal, since)
    lines = [
        f"{data['attempts']} attempts: {data['ok']} ok, {data['failed']} failed; "
        f"{data['modules']} modules, {data['good']} good",
    ]
    if data["hours"]:
        lines.append(
            f"throughput: {data['per_hour_rate']:.1f} modules per hour over {data['hours']:.2f} h"
        )
    if data["by_reason"]:
        lines.append("failures by reason:")
        for reason, n in data["by_reason"].items():
            lines.append(f"  {n:5d}  {reason}")
    lines.append("by socket (ok / failed):")
    for name, counts in data["by_socket"].items():
        lines.append(f"  {name:<10} {counts['ok']:5d} / {counts['failed']}")
    lines.append("units:")
    lines.append(f"  {'SERIAL':>6}  {'MAC':<17}  {'CLIENT ID':<16}  {'PROFILE':<12}  RESULT")
    for u in data["units"]:
        serial = "-" if u["serial"] is None else str(u["serial"])
        if not u["result"]:
            result = "no finished attempt"
        else:
            result = u["result"] if u["result"] == Outcome.OK else f"{u['result']}: {u['reason']}"
        lines.append(
            f"  {serial:>6}  {u['mac']:<17}  {u['client_id'] or '-':<16}  {u['profile']:<12}  "
            f"{result}"
        )
    return "\n".join(lines)
