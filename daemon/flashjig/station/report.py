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


def render(rows: list[AttemptRow], allocated: list[UnitRecord] | None = None) -> str:
    """The report as text: counts, throughput, failures by reason, sockets, units (with
    ``allocated``, every unit handed a serial, whether an attempt with it finished or not)."""
    finished = [r for r in rows if r.result is not Outcome.STARTED]
    ok = [r for r in finished if r.result is Outcome.OK]
    failed = [r for r in finished if r.result in FAILED_OUTCOMES]
    unit_rows = units(rows, allocated)
    good_units = sum(1 for u in unit_rows if u.result is Outcome.OK)
    hours = _hours(finished)
    lines = [
        f"{len(finished)} attempts: {len(ok)} ok, {len(failed)} failed; "
        f"{len(unit_rows)} modules, {good_units} good",
    ]
    if hours:
        lines.append(f"throughput: {len(ok) / hours:.1f} modules per hour over {hours:.2f} h")
    if failed:
        lines.append("failures by reason:")
        for reason, n in Counter(r.reason or r.result for r in failed).most_common():
            lines.append(f"  {n:5d}  {reason}")
    lines.append("by socket (ok / failed):")
    sockets = sorted({r.socket for r in finished})
    for name in sockets:
        n_ok = sum(1 for r in ok if r.socket == name)
        n_failed = sum(1 for r in failed if r.socket == name)
        lines.append(f"  {name:<10} {n_ok:5d} / {n_failed}")
    lines.append("units:")
    lines.append(f"  {'SERIAL':>6}  {'MAC':<17}  {'CLIENT ID':<16}  {'PROFILE':<12}  RESULT")
    for u in unit_rows:
        serial = "-" if u.serial is None else str(u.serial)
        if u.result is None:
            result = "no finished attempt"
        else:
            result = u.result if u.result is Outcome.OK else f"{u.result}: {u.reason}"
        lines.append(
            f"  {serial:>6}  {u.mac:<17}  {u.client_id or '-':<16}  {u.profile:<12}  {result}"
        )
    return "\n".join(lines)
