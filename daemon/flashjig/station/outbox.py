"""Finished attempts on their way out: the outcomes the journal could not take yet, and
the outbox a reporter publishes results from.

A result is published from the journal and marked there once the broker acknowledges it.
An outcome the journal cannot take (a full disk) is held in memory until it can; it is
published all the same, and recorded as published when the journal takes it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from flashjig.errors import JournalUnwritable
from flashjig.flashing.result import FlashResult
from flashjig.station.journal import AttemptRow, Journal


@dataclass
class HeldOutcome:
    """A finished attempt the journal could not take, and whether the broker has it."""

    row: int
    result: FlashResult
    published: bool = False


class HeldOutcomes:
    """Outcomes held in memory while the journal cannot be written. The lock keeps
    recording one and marking it published (the reporter's thread) apart."""

    def __init__(self) -> None:
        self._held: list[HeldOutcome] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._held)

    def __getitem__(self, index: int) -> HeldOutcome:
        with self._lock:
            return self._held[index]

    def keep(self, row: int, result: FlashResult) -> int:
        """Hold an outcome; how many are held now."""
        with self._lock:
            self._held.append(HeldOutcome(row, result))
            return len(self._held)

    def unpublished(self) -> list[HeldOutcome]:
        with self._lock:
            return [held for held in self._held if not held.published]

    def mark_published(self, row: int) -> bool:
        """The broker acknowledged a held outcome. False when the journal took it before
        the acknowledgement came (mark the journal's row instead)."""
        with self._lock:
            for held in self._held:
                if held.row == row:
                    held.published = True
                    return True
        return False

    def record(self, journal: Journal, *, label: bool) -> int | None:
        """Give the journal the held outcomes, oldest first: how many it took once it has
        taken all, None while it still cannot (those left stay held)."""
        with self._lock:
            count = len(self._held)
            while self._held:
                held = self._held[0]
                try:
                    journal.finish_attempt(
                        held.row, held.result, published=held.published, label=label
                    )
                except JournalUnwritable:
                    return None
                self._held.pop(0)
            return count


class ResultOutbox:
    """The results a reporter publishes, in journal order, then those held in memory; and
    where an acknowledgement is recorded."""

    def __init__(self, journal: Journal, held: HeldOutcomes) -> None:
        self.journal = journal
        self.held = held

    def unpublished(self, limit: int = 50) -> list[AttemptRow]:
        held = [self.journal.finished_row(h.row, h.result) for h in self.held.unpublished()]
        return [*self.journal.unpublished(limit=limit), *held]

    def published(self, attempt_id: int) -> None:
        """The broker has a result: a held outcome is recorded as published when the
        journal takes it; a recorded one is marked now."""
        if not self.held.mark_published(attempt_id):
            self.journal.mark_published(attempt_id)

    def backlog(self) -> int:
        """How many finished attempts wait for the broker in the journal."""
        return self.journal.unpublished_count()

    @property
    def empty(self) -> bool:
        return not self.journal.unpublished(limit=1)
