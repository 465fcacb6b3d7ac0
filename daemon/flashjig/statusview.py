"""The human view of a station's status: one line per socket with a progress bar."""

BAR = 24


def progress_bar(percent: float, width: int = BAR) -> str:
    filled = int(round(percent * width / 100))
    return "[" + "#" * filled + "-" * (width - filled) + f"] {percent:5.1f}%"


def render(status: dict) -> str:
    today, total = status["today"], status["total"]
    lines = [
        f"station {status['station']}  profile {status['profile']}  "
        f"trigger {status['trigger']}  today {today['ok']} ok / {today['failed']} failed  "
        f"(all time {total['ok']} ok / {total['failed']} failed)",
        f"{'SOCKET':<10} {'STATE':<9} {'PROGRESS':<33} {'MAC':<17}  LAST",
    ]
    for s in status["sockets"]:
        if s["state"] == "flashing":
            stage = s["stage"] or "starting"
            progress = progress_bar(s["progress"]) if stage == "writing" else stage
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
        lines.append(
            f"{s['name']:<10} {s['state']:<9} {progress:<33} {s['mac'] or '-':<17}  {last}"
        )
    return "\n".join(lines)
