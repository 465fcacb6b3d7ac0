"""One socket of the station: an independent state machine over its detect switch, its
optional power switch and the flash pipeline.

empty -> inserted (detect switch closed and stable for the debounce time) -> flashing
(retries included) -> ok / failed -> empty when the module is taken out. Each socket
flashes in its own thread, so a slow or hung module holds up nobody else.
"""

import logging
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Protocol

from flashjig.config import AUTO, Profile, SocketConfig, StationConfig, Trigger
from flashjig.errors import JournalError, JournalUnwritable
from flashjig.flashing import identity
from flashjig.flashing.identity import Unit
from flashjig.flashing.images import Image
from flashjig.flashing.pipeline import FlashJob, flash
from flashjig.flashing.rates import FastConnect
from flashjig.flashing.result import FlashResult, Progress, Reason
from flashjig.hardware.base import Hardware
from flashjig.hardware.socket_lines import POWER_OFF_S, POWER_ON_S, SocketLines
from flashjig.hardware.usb import tx_held_low
from flashjig.station.journal import Journal
from flashjig.station.rates import LEARNED_FROM, SocketRates
from flashjig.station.status import SocketState, SocketStatus

log = logging.getLogger(__name__)

# Retrying these cannot help: the module or the image is wrong, or someone said stop.
FINAL = {
    Reason.WRONG_CHIP,
    Reason.FLASH_TOO_SMALL,
    Reason.CANCELLED,
    Reason.REMOVED,
    Reason.NO_IDENTITY,
    Reason.IMAGE_LAYOUT,
    Reason.BACKUP_FAILED,
    Reason.DID_NOT_BOOT,
    Reason.BURN_IN_FAILED,
}


class Workshop(Protocol):
    """What a socket needs from its station."""

    journal: Journal
    hardware: Hardware
    state_dir: Path | None

    @property
    def settings(self) -> StationConfig: ...
    @property
    def accepting(self) -> bool: ...
    def job_inputs(self, recovery: bool = False) -> tuple[Profile, tuple[Image, ...]]: ...
    def socket_changed(self, socket: "Socket") -> None: ...
    def keep_unrecorded(self, row: int, result: FlashResult, error: Exception) -> None: ...


class Socket:
    def __init__(self, config: SocketConfig, workshop: Workshop) -> None:
        self.config = config
        self.name = config.name
        self.workshop = workshop
        self.status = SocketStatus(config.name)
        self._lock = threading.RLock()
        # Edges come on the pin callback thread (gpiozero has one for every pin on a Pi):
        # restarting the debounce timer must not wait for the socket's lock.
        self._timer_lock = threading.Lock()
        self._cancel = threading.Event()
        self._removed = threading.Event()
        self._worker: threading.Thread | None = None
        self._settle: threading.Timer | None = None
        self._debounce: threading.Timer | None = None
        # What each adapter this socket has had holds, under the settings learned with.
        self._learned: dict[tuple[str | None, int, bool], SocketRates] = {}
        self.lines = SocketLines.on(workshop.hardware, config)
        self._power = self.lines.power
        self._detect = self.lines.detect
        if self._detect is not None:
            self._detect.when_activated = self._edge
            self._detect.when_deactivated = self._edge

    def start(self) -> None:
        """Take up the state the hardware is in: a socket without a switch is always full."""
        self._show_rates(self._rates(), self.workshop.job_inputs()[0])
        if self._detect is None or self._detect.is_active:
            self._inserted()

    # -- detect switch -------------------------------------------------------------------

    def _edge(self) -> None:
        """Restart the debounce timer on every edge; act only on a level that holds."""
        with self._timer_lock:
            if self._debounce is not None:
                self._debounce.cancel()
            self._debounce = threading.Timer(self.workshop.settings.debounce, self._settled)
            self._debounce.daemon = True
            self._debounce.start()

    def _settled(self) -> None:
        with self._lock:
            # A timer already waiting for the lock when a later edge replaced it would
            # act on an old level: only the newest one acts, on the level as it is now.
            if threading.current_thread() is not self._debounce:
                return
            detect = self._detect
            assert detect is not None  # only its edges start the debounce timer
            present = detect.is_active
            empty = self.status.state is SocketState.EMPTY
            if present and empty:
                self._inserted()
            elif not present and not empty:
                self._taken_out()

    def _inserted(self) -> None:
        log.info("%s: module inserted", self.name, extra={"SOCKET": self.name})
        self._removed.clear()
        self.lines.straps.hold_in_reset()  # unpowered or not: it never starts its old firmware
        self.lines.power_on(settle=False)
        self._move(SocketStatus.inserted)
        if self.workshop.settings.trigger in (Trigger.INSERT, Trigger.BOTH):
            self._settle = threading.Timer(self.workshop.settings.settle_time, self._settle_done)
            self._settle.daemon = True
            self._settle.start()

    def _settle_done(self) -> None:
        with self._lock:
            # Cancelled (taken out, maybe re-seated) while waiting for the lock: that
            # module's settle time is not this one's.
            if threading.current_thread() is self._settle:
                self.request_flash()

    def _taken_out(self) -> None:
        log.info("%s: module removed", self.name, extra={"SOCKET": self.name})
        if self._settle is not None:
            self._settle.cancel()
        self._removed.set()
        self._cancel.set()
        if self._power is not None:
            self._power.off()
        if self.status.state is not SocketState.FLASHING:
            self._move(SocketStatus.emptied)
        # else the worker sets EMPTY when the attempt has wound down

    # -- flashing ------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._worker is not None and self._worker.is_alive()

    def request_flash(self, *, recovery: bool = False) -> bool:
        """Flash the module if it is seated and not yet flashed (with ``recovery``: any
        seated module, with the recovery profile); True if a flash started."""
        with self._lock:
            flashable: tuple[SocketState, ...] = (SocketState.INSERTED, SocketState.FAILED)
            if recovery:
                flashable += (SocketState.OK,)
            if self.status.state not in flashable or not self.workshop.accepting:
                return False
            worker = self._worker
            if worker is not None and worker.is_alive():
                # The last attempt has set its outcome and is returning: let it go.
                worker.join(timeout=1.0)
                if self.busy:
                    return False
            self._cancel.clear()
            self._move(SocketStatus.flashing)
            self._worker = threading.Thread(
                target=self._work, args=(recovery,), name=f"flash-{self.name}"
            )
            self._worker.start()
            return True

    def cancel(self) -> None:
        self._cancel.set()

    def _work(self, recovery: bool) -> None:
        settings = self.workshop.settings
        result: FlashResult | None = None
        try:
            # Inside the guard: a reload may take the recovery profile away meanwhile.
            profile, images = self.workshop.job_inputs(recovery)
            rates = self._rates()
            for attempt in range(settings.retries + 1):
                if result is not None and result.reason in (Reason.NO_SYNC, Reason.TIMEOUT):
                    self._power_cycle()
                attempting = partial(
                    SocketStatus.attempting, attempt=attempt + 1, profile=profile.name
                )
                self._move(attempting)
                result = self._attempt(profile, images, attempt, rates)
                if result.ok or result.reason in FINAL or self._cancel.is_set():
                    break
        except Exception as e:  # never leave the socket stuck in 'flashing'
            log.exception("%s: flashing failed", self.name, extra={"SOCKET": self.name})
            result = FlashResult(
                self.name, reason=Reason.INTERNAL_ERROR, detail=f"{type(e).__name__}: {e}"
            )
        assert result is not None  # retries >= 0 (the loader checks it): there was an attempt
        last: FlashResult = result
        with self._lock:
            removed = self._removed.is_set()
            self._move(lambda status: status.finished(last, removed=removed))
            if removed and self._detect is not None and self._detect.is_active:
                # Taken out and seated again while the attempt wound down: the edges came
                # while the socket was still flashing, so take the new module up now.
                self._inserted()

    def _rates(self) -> SocketRates:
        """What this socket has learned of the adapter it has now: from the journal the
        first time, then from each module (kept here when the journal cannot be read)."""
        settings = self.workshop.settings
        adapter = self.workshop.hardware.adapter(self.name)
        key = (adapter, settings.sync_baud, settings.rom_baud_change)
        if key not in self._learned:
            try:
                history = self.workshop.journal.recent_rates(self.name, adapter, LEARNED_FROM)
            except JournalError as e:
                log.warning("%s: journal: %s", self.name, e, extra={"SOCKET": self.name})
                history = []
            self._learned[key] = SocketRates(self.name, adapter, settings, history)
        return self._learned[key]

    def _plan(
        self, profile: Profile, retry: int, rates: SocketRates
    ) -> tuple[int, FastConnect | None]:
        """The write rate and the faster start of an attempt: the first as learned, the
        retries exactly as before any of that (esptool's way, at the fallback rate)."""
        if retry == 0:
            return rates.write(profile.baud), rates.fast()
        return min(self.workshop.settings.fallback_baud, profile.baud), None

    def _show_rates(self, rates: SocketRates, profile: Profile) -> None:
        shown = rates.shown(profile.baud)
        self._move(lambda status: status.with_rates(shown))

    def _attempt(
        self, profile: Profile, images: tuple[Image, ...], retry: int, rates: SocketRates
    ) -> FlashResult:
        """One attempt, journalled from before the module is touched to its outcome."""
        baud, fast = self._plan(profile, retry, rates)
        journal = self.workshop.journal
        row = journal.start_attempt(
            socket=self.name,
            profile=profile.name,
            images=[
                {"offset": i.offset, "file": str(i.path), "sha256": i.sha256, "size": len(i.data)}
                for i in images
                if self.config.chip in (AUTO, i.chip)
            ],
            baud=baud,
            retry=retry,
            adapter=rates.adapter,
        )
        job = FlashJob.for_socket(
            self.config,
            port=self.workshop.hardware.port(self.name),
            straps=self.lines.straps,
            profile=profile,
            images=images,
            station=self.workshop.settings.id,
            state_dir=self.workshop.state_dir,
            on_progress=self._recording(row),
            cancel=self._cancel,
            baud=baud,
            unit_for=self._unit_for(profile, row),
            fast=fast,
        )
        result = self._taken_out_during(flash(job))
        try:
            journal.finish_attempt(row, result, label=self.workshop.settings.prints_labels)
        except JournalUnwritable as e:  # a full disk: the outcome must not be lost
            self.workshop.keep_unrecorded(row, result, e)
        self._log_outcome(result, retry)
        if retry == 0:
            rates.learn(result)
            self._show_rates(rates, profile)
        return result

    def _taken_out_during(self, result: FlashResult) -> FlashResult:
        """A failed attempt whose module was pulled out fails for that reason. Pulled out
        mid-write, a module breaks its serial line at once, before its detect switch has
        held open for the debounce time: wait for that verdict, so that the removal is the
        reason, and nothing is retried on an empty socket."""
        if result.ok:
            return result
        if self._detect is not None and not self._removed.is_set():
            self._removed.wait(timeout=2 * self.workshop.settings.debounce + 0.05)
        if self._removed.is_set():
            result.reason = Reason.REMOVED
            result.detail = f"taken out during the attempt ({result.detail})"
        return result

    def _log_outcome(self, result: FlashResult, retry: int) -> None:
        words = "flashed and verified" if result.ok else f"failed: {result.reason}: {result.detail}"
        rates = f"sync {result.sync_baud} / write {result.baud}"
        if not result.sync_baud:
            rates = f"{result.baud} baud"  # it never synced
        if result.rate_fallback:
            rates += f", {result.rate_fallback} fell back"
        log.log(
            logging.INFO if result.ok else logging.WARNING,
            "%s: module %s %s in %.1f s (attempt %d, %s)",
            self.name,
            result.mac or "(no MAC)",
            words,
            result.duration_s,
            retry + 1,
            rates,
            extra={"SOCKET": self.name, "MAC": result.mac or "", "RESULT": result.outcome},
        )

    def _recording(self, row: int) -> Callable[[Progress], None]:
        """Progress as usual, and the module's MAC on its journal row the moment it is
        known: an attempt cut short can still be traced to its module."""
        recorded: list[str] = []

        def progress(event: Progress) -> None:
            if event.mac is not None and not recorded:
                recorded.append(event.mac)
                try:
                    self.workshop.journal.record_module(row, mac=event.mac)
                except JournalUnwritable as e:  # the end of the attempt records it
                    log.warning("%s: journal: %s", self.name, e, extra={"SOCKET": self.name})
            self._progress(event)

        return progress

    def _unit_for(self, profile: Profile, row: int) -> Callable[[str], Unit] | None:
        """Serials come from the journal, durably, before the module is written, and go on
        the attempt's row at once."""
        ident = profile.identity
        if ident is None:
            return None

        def unit_for(mac: str) -> Unit:
            files = identity.unit_image_files(ident.folder) if ident.folder else None
            unit = self.workshop.journal.allocate_unit(
                mac,
                profile=profile.name,
                serial_range=self.workshop.settings.serial_range,
                client_id=lambda serial: identity.client_id(ident, serial, mac),
                images=files,
            )
            self.workshop.journal.record_module(
                row, mac=mac, serial=unit.serial, client_id=unit.client_id
            )
            image = ident.folder / unit.image if ident.folder and unit.image else None
            return Unit(unit.serial, unit.client_id or "", mac, image)

        return unit_for

    def _power_cycle(self) -> None:
        if self._power is None or self._removed.is_set():
            return
        log.info("%s: power-cycling the module", self.name, extra={"SOCKET": self.name})
        with tx_held_low(self.workshop.hardware.port(self.name)):  # or TX keeps it half powered
            self._power.off()
            time.sleep(POWER_OFF_S)
            with self._lock:  # a module taken out meanwhile stays unpowered
                if self._removed.is_set():
                    return
                self.lines.power_on(settle=False)
        time.sleep(POWER_ON_S)

    def _progress(self, progress: Progress) -> None:
        self._move(lambda status: status.progressed(progress.stage, progress.percent, progress.mac))

    # -- state ---------------------------------------------------------------------------

    def _move(self, transition: Callable[[SocketStatus], SocketStatus]) -> None:
        """Take the socket to its next status (a transition of SocketStatus) and show it."""
        with self._lock:
            self.status = transition(self.status)
        self.workshop.socket_changed(self)

    def join(self, timeout: float | None = None) -> None:
        worker = self._worker
        if worker is not None:
            worker.join(timeout)

    def close(self, *, join_s: float = 30.0) -> None:
        """Cancel what runs, wait up to ``join_s`` for it, and let the pins go."""
        for timer in (self._settle, self._debounce):
            if timer is not None:
                timer.cancel()
        self.cancel()
        self.join(timeout=join_s)
        self.lines.close()
