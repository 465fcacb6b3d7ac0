"""The label spooler: prints the labels the journal has queued (``print_on: ok`` queues one
with every ok outcome, in the same transaction), oldest first, on a thread of its own.

A printer that is off or out of labels never holds up a flash: its error is recorded on
the label, said once in the log (again only when it changes), and the spooler tries again
every RETRY_S, or at once when a new label is queued; what is queued survives a restart.
A label that cannot be made (drawn or encoded: any error but the printer's) would fail on
every try: it is marked failed with why, and the ones after it print. ``flashjig labels
--pending`` shows the queue and the failed labels, the station's status counts them.
"""

from __future__ import annotations

import logging
import threading

from flashjig.config import LabelLayout
from flashjig.config.labelcode import LabelError
from flashjig.errors import JournalError
from flashjig.hardware.printers import LabelPrinter, PrinterError
from flashjig.station.journal import AttemptRow, Journal
from flashjig.station.labels import Label, render

log = logging.getLogger(__name__)

RETRY_S = 10.0


class LabelSpooler:
    def __init__(self, journal: Journal, printer: LabelPrinter, layout: LabelLayout) -> None:
        self.journal = journal
        self.printer = printer
        self.layout = layout
        self._wake = threading.Event()
        self._stop = threading.Event()
        # What holds the queue now (the printer's error, the journal's), "" when nothing.
        self.problem = ""
        self._thread = threading.Thread(target=self._run, name="labels", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """A label was queued: print it now, not at the next retry."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self._print_pending()
            except JournalError as e:  # a full disk, say
                self._say(f"cannot read or update the queue: {e}")
            except Exception as e:  # a bug: said, tried again, never the thread's end
                problem = f"the spooler failed: {type(e).__name__}: {e}"
                if problem != self.problem:
                    log.exception("labels: %s; trying again every %.0f s", problem, RETRY_S)
                    self.problem = problem
            self._wake.wait(RETRY_S)

    def _print_pending(self) -> None:
        for row, _tries, _error in self.journal.pending_labels():
            if self._stop.is_set():
                return
            try:
                data = self._make(row)
                self.printer.send(data)
            except (PrinterError, OSError) as e:
                self.journal.label_not_printed(row.id, str(e))
                waiting = len(self.journal.pending_labels())
                self._say(str(e), f"; {waiting} label(s) wait for the printer")
                return
            except LabelError as e:
                self._give_up(row, str(e))
                continue
            self.journal.label_printed(row.id)
            if self.problem:
                log.warning("labels: printing again (was: %s)", self.problem)
                self.problem = ""
            log.info(
                "%s: printed the label of %s (%s)",
                row.socket,
                _unit(row),
                row.mac,
                extra={"SOCKET": row.socket, "MAC": row.mac or ""},
            )

    def _make(self, row: AttemptRow) -> bytes:
        """What the printer is sent for the row's label; LabelError when the label itself
        cannot be made. A PrinterError or OSError is the printer's or the host's (brother_ql
        cannot fit the label size, a font cannot be read): the label waits."""
        try:
            label = Label.of(row)
            image = render(label, self.layout, self.printer.canvas(self.layout))
            return self.printer.encode(image)
        except (PrinterError, OSError, LabelError):
            raise
        except Exception as e:  # no other error is known: it would be the same next time
            raise LabelError(f"cannot make it: {type(e).__name__}: {e}") from None

    def _give_up(self, row: AttemptRow, why: str) -> None:
        why = " ".join(why.split())  # one line, whatever the error said
        self.journal.label_failed(row.id, why)
        log.error(
            "%s: the label of %s (%s) cannot be printed, given up: %s",
            row.socket,
            _unit(row),
            row.mac,
            why,
            extra={"SOCKET": row.socket, "MAC": row.mac or ""},
        )

    def _say(self, problem: str, more: str = "") -> None:
        """Log what holds the queue once, and again only when it changes."""
        if problem != self.problem:
            log.warning("labels: %s%s", problem, more)
            self.problem = problem


def _unit(row: AttemptRow) -> str:
    return f"unit {row.serial}" if row.serial is not None else "the module"
