"""Route esptool's process-wide logger to the socket whose thread is talking.

esptool 5 prints through one singleton (``esptool.logger.log``); with several sockets
flashed from threads of one process, its lines would interleave on stdout (esptool
issue #1102). We install one logger that hands each line to Python logging, tagged with
the socket the calling thread is working for. Progress is not taken from here: the
pipeline reports it as structured events from its own write loop.

``install`` also stops esptool formatting hex dumps nobody reads
(``esptool_internals.quiet_hex_dumps``).
"""

import contextlib
import logging
import threading
from collections.abc import Iterator
from typing import Any

from esp_pylib.logger import EspLog, EspLogBase

from flashjig.flashing import esptool_internals

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

    def print(self, *args: Any, **kwargs: Any) -> None:
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

    def progress_bar(
        self,
        cur_iter: int,
        total_iters: int,
        prefix: str = "",
        suffix: str = "",
        bar_length: int = 30,
    ) -> None:
        pass


def install() -> None:
    """Make esptool's output go through RoutedLog and its unseen hex dumps cost nothing
    (idempotent)."""
    if not isinstance(EspLog.instance, RoutedLog):
        EspLog.set_logger(RoutedLog())
    esptool_internals.quiet_hex_dumps()


@contextlib.contextmanager
def socket_context(name: str) -> Iterator[None]:
    """Tag esptool's lines from this thread with ``name`` while the block runs."""
    previous = getattr(_context, "socket", None)
    _context.socket = name
    try:
        yield
    finally:
        _context.socket = previous
