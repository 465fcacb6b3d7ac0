"""``flashjig report``: the morning after an overnight batch.

How many modules came out ok and how many failed, why and in which socket, the
throughput per hour, and the list of units (serial, MAC, client id, profile, result) to
print labels from.
"""

from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from flashjig.flashing.result import FAILED_OUTCOMES, Outcome, Reason
from flashjig.station.journal import AttemptRow, UnitRecord

UNIT_FIELDS = ("serial", "mac", "client_id", "profile", "result", "reason", "socket", "finished_at")


@dataclass(frozen=True)
class UnitLine:
    """One module of the batch: its unit (where it was given one) and its last result
    (None: a serial was handed out, and no attempt with it finished)."""

    serial: int | None
    mac: str
    client_id: str | None
    profile: str
    result: Outcome | None
    reason: Reason | None
    socket: str | None
    finished_at: str | None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["reason"] = self.reason or ""
        data["result"] = self.result or ""
        return data


def units(rows: list[AttemptRow], allocated: list[UnitRecord] | None = None) -> list[UnitLine]:
    """One line per module: every unit the journal handed a serial, and every other module
    (by MAC) an attempt finished on, each with its last finished attempt."""
    last: dict[str, AttemptRow] = {}
    for row in rows:
        if row.mac and row.result is not Outcome.STARTED:
            last[row.mac] = row
    lines = []
    for unit in allocated or []:
        found = last.pop(unit.mac, None)
        lines.append(
            UnitLine(
                unit.serial,
                unit.mac,
                unit.client_id,
                unit.profile,
                found.result if found else None,
                found.reason if found else None,
                found.socket if found else None,
                found.finished_at if found else None,
            )
        )
    for mac, row in last.items():
        lines.append(
            UnitLine(
                row.serial, mac, row.client_id, row.profile, row.result, row.reason,
                row.socket, row.finished_at,
            )
        )  # fmt: skip
    return sorted(lines, key=lambda u: (u.serial is None, u.serial or 0, u.mac))


def _hours(rows: list[AttemptRow]) -> float:
    stamps = [datetime.fromisoformat(r.started_at.replace("Z", "+00:00")) for r in rows]
    ends = [
        datetime.fromisoformat(r.finished_at.replace("Z", "+00:00")) for r in rows if r.finished_at
    ]
    if not stamps or not ends:
        return 0.0
    return max((max(ends) - min(stamps)).total_seconds() / 3600, 1 / 60)


def summary(rows: list[AttemptRow], allocated: list[UnitRecord] | None = None) -> dict[str, Any]:
    """The report as data (the status page's JSON, and what ``render`` writes out): counts,
    throughput, failures by reason, ok and failed by socket and by hour, the units."""
    finished = [r for r in rows if r.result is not Outcome.STARTED]
    ok = [r for r in finished if r.result is Outcome.OK]
    failed = [r for r in finished if r.result in FAILED_OUTCOMES]
    unit_rows = units(rows, allocated)
    hours = _hours(finished)
    per_hour: dict[str, dict[str, int]] = {}
    for row in finished:
        hour = per_hour.setdefault((row.finished_at or row.started_at)[:13], {"ok": 0, "failed": 0})
        hour["ok" if row.result is Outcome.OK else "failed"] += 1
    return {
        "attempts": len(finished),
        "ok": len(ok),
        "failed": len(failed),
        "modules": len(unit_rows),
        "good": sum(1 for u in unit_rows if u.result is Outcome.OK),
        "hours": round(hours, 3),
        "per_hour_rate": round(len(ok) / hours, 1) if hours else None,
        "by_reason": dict(Counter(str(r.reason or r.result) for r in failed).most_common()),
        "by_socket": {
            name: {
                "ok": sum(1 for r in ok if r.socket == name),
                "failed": sum(1 for r in failed if r.socket == name),
            }
            for name in sorted({r.socket for r in finished})
        },
        "per_hour": [{"hour": hour, **counts} for hour, counts in sorted(per_hour.items())],
        "units": [u.as_dict() for u in unit_rows],
    }


def render(rows: list[AttemptRow], allocated: list[UnitRecord] | None = None) -> str:
    """The report as text: counts, throughput, failures by reason, sockets, units (with
    ``allocated``, every unit handed a serial, whether an attempt with it finished or not)."""
    data = summary(rows, allocated)
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
    for u in units(rows, allocated):
        serial = "-" if u.serial is None else str(u.serial)
        if u.result is None:
            result = "no finished attempt"
        else:
            result = u.result if u.result is Outcome.OK else f"{u.result}: {u.reason}"
        lines.append(
            f"  {serial:>6}  {u.mac:<17}  {u.client_id or '-':<16}  {u.profile:<12}  {result}"
        )
    return "\n".join(lines)
