"""The report's two pictures for the status page, drawn by matplotlib (its object API and
the Agg canvas: no pyplot, no display): modules per hour, ok and failed stacked, and
failures by reason. Each takes the report as data (``flashjig.station.report.summary``),
light or dark as the page is (a white picture glares in a dark room)."""

from __future__ import annotations

import io
from typing import Any

OK_COLOUR = "#2b8a3e"
FAILED_COLOUR = "#c92a2a"
SIZE_IN = (6.4, 2.6)
DPI = 100
# The page's dark scheme (static/style.css): its tile colour behind, its text colour on it.
DARK: dict[Any, Any] = {  # matplotlib types its keys as a Literal of every rc name
    "figure.facecolor": "#1d2126",
    "axes.facecolor": "#1d2126",
    "savefig.facecolor": "#1d2126",
    "text.color": "#e8eaed",
    "axes.labelcolor": "#e8eaed",
    "axes.edgecolor": "#c6c9cd",
    "xtick.color": "#e8eaed",
    "ytick.color": "#e8eaed",
}


def _png(draw: Any, dark: bool) -> bytes:
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with rc_context(DARK if dark else None):
        figure = Figure(figsize=SIZE_IN, dpi=DPI, layout="constrained")
        FigureCanvasAgg(figure)
        draw(figure.add_subplot())
        out = io.BytesIO()
        figure.savefig(out, format="png")
    return out.getvalue()


def per_hour(report: dict[str, Any], *, dark: bool = False) -> bytes:
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

    return _png(draw, dark)


def reasons(report: dict[str, Any], *, dark: bool = False) -> bytes:
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

    return _png(draw, dark)


def _empty(axes: Any, words: str) -> None:
    """No data: the words alone, no axes with made-up ticks."""
    axes.set_axis_off()
    axes.text(0.5, 0.5, words, ha="center", va="center", transform=axes.transAxes)
