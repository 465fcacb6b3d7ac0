"""The label spooler: prints the labels the journal has queued (``print_on: ok`` queues one
with every ok outcome, in the same transaction), oldest first, on a thread of its own.

A printer that is off or out of labels never holds up a flash: its error is recorded on
the label, said once in the log (again only when it changes), and the spooler tries again
every RETRY_S, or at once when a new label is queued; what is queued survives a restart.
``flashjig labels --pending`` shows the queue.
"""

from __future__ import annotations

import logging
import sqlite3
import threading

from flashjig.config import LabelLayout
from flashjig.hardware.printers import LabelPrinter, PrinterError
from flashjig.station.journal import Journal
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
        self._problem = ""
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
            except (sqlite3.Error, OSError) as e:  # the journal: a full disk, say
                log.warning("labels: cannot read or update the queue: %s", e)
            self._wake.wait(RETRY_S)

    def _print_pending(self) -> None:
        for row, _tries, _error in self.journal.pending_labels():
            if self._stop.is_set():
                return
            label = Label.of(row)
            image = render(label, self.layout, self.printer.canvas(self.layout))
            try:
                self.printer.print(image)
            except PrinterError as e:
                self.journal.label_failed(row.id, str(e))
                waiting = len(self.journal.pending_labels())
                if str(e) != self._problem:
                    log.warning("labels: %s; %d label(s) wait for the printer", e, waiting)
                    self._problem = str(e)
                return
            self.journal.label_printed(row.id)
            if self._problem:
                log.warning("labels: the printer takes labels again")
                self._problem = ""
            who = f"unit {row.serial}" if row.serial is not None else "the module"
            log.info(
                "%s: printed the label of %s (%s)",
                row.socket,
                who,
                row.mac,
                extra={"SOCKET": row.socket, "MAC": row.mac or ""},
            )
