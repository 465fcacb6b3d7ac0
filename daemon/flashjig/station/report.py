"""``flashjig report``: the morning after an overnight batch.

How many modules came out ok and how many failed, why and in which socket, the
throughput per hour, and the list of units (serial, MAC, client id, profile, result) to
print labels from.
"""

from collections import Counter
from datetime import datetime

from flashjig.flashing.result import FAILED_OUTCOMES, Outcome
from flashjig.station.journal import AttemptRow

UNIT_FIELDS = ("serial", "mac", "client_id", "profile", "result", "reason", "socket", "finished_at")


def units(rows: list[AttemptRow]) -> list[AttemptRow]:
    """One line per module (by MAC): its last finished attempt."""
    last: dict[str, AttemptRow] = {}
    for row in rows:
        if row.mac and row.result is not Outcome.STARTED:
            last[row.mac] = row
    return sorted(last.values(), key=lambda r: (r.serial is None, r.serial or 0, r.id))


def _hours(rows: list[AttemptRow]) -> float:
    stamps = [datetime.fromisoformat(r.started_at.replace("Z", "+00:00")) for r in rows]
    ends = [
        datetime.fromisoformat(r.finished_at.replace("Z", "+00:00")) for r in rows if r.finished_at
    ]
    if not stamps or not ends:
        return 0.0
    return max((max(ends) - min(stamps)).total_seconds() / 3600, 1 / 60)


def render(rows: list[AttemptRow]) -> str:
    """The report as text: counts, throughput, failures by reason, sockets, units."""
    finished = [r for r in rows if r.result is not Outcome.STARTED]
    ok = [r for r in finished if r.result is Outcome.OK]
    failed = [r for r in finished if r.result in FAILED_OUTCOMES]
    unit_rows = units(rows)
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
        result = u.result if u.result is Outcome.OK else f"{u.result}: {u.reason}"
        lines.append(
            f"  {serial:>6}  {u.mac or '-':<17}  {u.client_id or '-':<16}  "
            f"{u.profile:<12}  {result}"
        )
    return "\n".join(lines)
