"""The human view of a station's status: one line per socket with its light, a progress
bar and the last result, and under it what to try when there is something to."""

from typing import Any

BAR = 24
# What each socket's light shows (flashjig.leds), for a terminal: ANSI colour, glyph.
LIGHTS = {
    "empty": ("2", "o"),
    "inserted": ("33", "*"),
    "flashing": ("32", "~"),
    "ok": ("32", "*"),
    "failed": ("31", "*"),
}


def progress_bar(percent: float, width: int = BAR) -> str:
    filled = int(round(percent * width / 100))
    return "[" + "#" * filled + "-" * (width - filled) + f"] {percent:5.1f}%"


def light(state: str, colour: bool) -> str:
    code, glyph = LIGHTS.get(state, ("0", "?"))
    return f"\x1b[{code}m{glyph}\x1b[0m" if colour else glyph


def render(status: dict[str, Any], *, colour: bool = False) -> str:
    today, total = status["today"], status["total"]
    lines = [
        f"station {status['station']}  profile {status['profile']}  "
        f"trigger {status['trigger']}  today {today['ok']} ok / {today['failed']} failed  "
        f"(all time {total['ok']} ok / {total['failed']} failed)",
        f"  {'SOCKET':<10} {'STATE':<9} {'PROGRESS':<33} {'MAC':<17}  {'BAUD':<13}  LAST",
    ]
    if status.get("journal", "ok") != "ok":
        lines.insert(1, f"  ! {status['journal']}")
    if "broker" in status:
        lines.insert(1, f"  MQTT: {status['broker']}")
    if labels := _labels_line(status.get("labels")):
        lines.insert(1, labels)
    if batch := status.get("batch"):
        done = batch["size"] - batch["left"]
        lines.insert(1, f"  batch: {done} of {batch['size']} flashed today, {batch['left']} left")
    for s in status["sockets"]:
        if s["state"] == "flashing":
            stage = s["stage"] or "starting"
            progress = progress_bar(s["progress"]) if stage == "writing" else stage + "..."
            if s["attempt"] > 1:
                progress += f" (try {s['attempt']})"
        elif s["state"] == "ok":
            progress = progress_bar(100.0)
        else:
            progress = ""
        last = s["last_result"] or "-"
        if s["last_result"] and s["last_result"] != "ok":
            last = f"{s['last_result']}: {s['reason']}"
        elif s["last_result"] == "ok" and s["duration_s"] is not None:
            last = f"ok in {s['duration_s']:.1f} s"
        mac = s["mac"] or "-"
        lines.append(
            f"{light(s['state'], colour)} {s['name']:<10} {s['state']:<9} {progress:<33} "
            f"{mac:<17}  {_baud(s.get('rates')):<13}  {last}"
        )
        if advice := s.get("advice"):  # what to try, under its socket (not from an older daemon)
            lines.append(f"  {'':<10} {advice}")
    return "\n".join(lines)


def _baud(rates: dict[str, Any] | None) -> str:
    """The socket's learned sync / write rates ("-" from an older daemon)."""
    return f"{rates['sync']}/{rates['write']}" if rates else "-"


def _labels_line(labels: dict[str, Any] | None) -> str:
    """What is wrong with the labels, one line; "" when nothing is (or an older daemon)."""
    if not labels or not (labels["problem"] or labels["failed"]):
        return ""
    said = [f"{labels['waiting']} waiting"]
    if labels["problem"]:
        said.append(labels["problem"])
    if labels["failed"]:
        said.append(f"{labels['failed']} failed, the last: {labels['last_failure']}")
    return "  ! labels: " + "; ".join(said)
