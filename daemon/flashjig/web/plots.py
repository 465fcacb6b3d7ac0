"""The report's two pictures for the status page, drawn by matplotlib (its object API and
the Agg canvas: no pyplot, no display): modules per hour, ok and failed stacked, and
failures by reason. Each takes the report as data (``flashjig.station.report.summary``)."""

from __future__ import annotations

import io
from typing import Any

OK_COLOUR = "#2b8a3e"
FAILED_COLOUR = "#c92a2a"
SIZE_IN = (6.4, 2.6)
DPI = 100


def _png(draw: Any) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=SIZE_IN, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    draw(figure.add_subplot())
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


def per_hour(report: dict[str, Any]) -> bytes:
    """Modules per hour (UTC), ok below failed."""
    hours = report["per_hour"]

    def draw(axes: Any) -> None:
        labels = [h["hour"][11:13] + ":00" for h in hours]
        ok = [h["ok"] for h in hours]
        failed = [h["failed"] for h in hours]
        axes.bar(labels, ok, color=OK_COLOUR, label="ok")
        axes.bar(labels, failed, bottom=ok, color=FAILED_COLOUR, label="failed")
        axes.set_ylabel("modules")
        axes.set_title("modules per hour (UTC)")
        if hours:
            axes.legend(loc="upper left", frameon=False)
        else:
            _empty(axes, "nothing flashed yet")

    return _png(draw)


def reasons(report: dict[str, Any]) -> bytes:
    """Failures by reason, the commonest on top."""
    counts = list(report["by_reason"].items())

    def draw(axes: Any) -> None:
        names = [name for name, _ in reversed(counts)]
        values = [n for _, n in reversed(counts)]
        axes.barh(names, values, color=FAILED_COLOUR)
        axes.set_xlabel("attempts")
        axes.set_title("failures by reason")
        if not counts:
            _empty(axes, "no failures")

    return _png(draw)


def _empty(axes: Any, words: str) -> None:
    """No data: the words alone, no axes with made-up ticks."""
    axes.set_axis_off()
    axes.text(0.5, 0.5, words, ha="center", va="center", transform=axes.transAxes)
