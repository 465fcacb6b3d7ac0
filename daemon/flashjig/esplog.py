"""Route esptool's process-wide logger to the socket whose thread is talking.

esptool 5 prints through one singleton (``esptool.logger.log``); with several sockets
flashed from threads of one process, its lines would interleave on stdout (esptool
issue #1102). We install one logger that hands each line to Python logging, tagged with
the socket the calling thread is working for. Progress is not taken from here: the
pipeline reports it as structured events from its own write loop.

esptool 5.6 also formats every packet it sends or receives as a hex dump for its trace
output, in f-strings that run whether tracing is on or not (``ESPLoader.write``,
``command`` and ``slip_reader`` wrap the bytes in ``HexFormatter``, whose laziness an
f-string defeats). That is about 8 ms of CPU per 16 KiB block, twice per block: most of
what a write costs the host, and on a Pi Zero 2 it delays every block. ``install`` swaps
in a HexFormatter that formats only once some loader in this process has tracing on.
"""

import contextlib
import logging
import threading
from collections.abc import Iterator
from typing import Any

import esptool.loader
from esp_pylib.logger import EspLog, EspLogBase

_context = threading.local()
logger = logging.getLogger("flashjig.esptool")


def _text(args: tuple[Any, ...]) -> str:
    return " ".join(str(a) for a in args).strip()


class RoutedLog(EspLogBase):
    """An esptool logger that writes to Python logging with the thread's socket name."""

    def _emit(self, level: int, args: tuple[Any, ...]) -> None:
        text = _text(args)
        if text and text != ".":
            socket = getattr(_context, "socket", None) or "-"
            logger.log(level, "%s: esptool: %s", socket, text, extra={"SOCKET": socket})

    def print(self, *args, **kwargs) -> None:
        self._emit(logging.DEBUG, args)

    def note(self, *args: Any) -> None:
        self._emit(logging.DEBUG, args)

    def hint(self, *args: Any) -> None:
        self._emit(logging.DEBUG, args)

    def debug(self, *args: Any) -> None:
        self._emit(logging.DEBUG, args)

    def warn(self, *args: Any, suggestion: str | None = None) -> None:
        self._emit(logging.INFO, args)

    def err(self, *args: Any, suggestion: str | None = None) -> None:
        self._emit(logging.WARNING, args)

    def set_verbosity(self, mode: int | str) -> None:
        pass

    def progress_bar(self, cur_iter, total_iters, prefix="", suffix="", bar_length=30) -> None:
        pass


class _TraceSwitch:
    """Stands in for the attribute ``ESPLoader._trace_enabled`` (set by every loader's
    ``__init__``, read by ``trace``): the same per-loader value, kept where it was, and
    noting process-wide once any loader traces."""

    def __get__(self, loader, owner=None):
        if loader is None:
            return self
        enabled = loader.__dict__.get("_trace_enabled", False)
        if enabled:
            _note_tracing()
        return enabled

    def __set__(self, loader, enabled) -> None:
        loader.__dict__["_trace_enabled"] = enabled
        if enabled:
            _note_tracing()


def _note_tracing() -> None:
    global _tracing
    _tracing = True


_tracing = False  # has any loader in this process had tracing on?


class QuietHexFormatter(esptool.loader.HexFormatter):
    """esptool's HexFormatter, formatting nothing until some loader traces."""

    def __str__(self) -> str:
        return super().__str__() if _tracing else ""


def install() -> None:
    """Make esptool's output go through RoutedLog and its unseen hex dumps cost nothing
    (idempotent)."""
    if not isinstance(EspLog.instance, RoutedLog):
        EspLog.set_logger(RoutedLog())
    loader = esptool.loader.ESPLoader
    if not isinstance(loader.__dict__.get("_trace_enabled"), _TraceSwitch):
        loader._trace_enabled = _TraceSwitch()
        esptool.loader.HexFormatter = QuietHexFormatter


@contextlib.contextmanager
def socket_context(name: str) -> Iterator[None]:
    """Tag esptool's lines from this thread with ``name`` while the block runs."""
    previous = getattr(_context, "socket", None)
    _context.socket = name
    try:
        yield
    finally:
        _context.socket = previous
