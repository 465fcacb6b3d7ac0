"""The station: its sockets, the push button, the lights, and the journal they share.

The station owns what is common (active profile and its images, trigger settings, the
journal) and hands each socket what it needs; sockets never know about each other.
A short press flashes every socket holding a module not yet flashed; a long press
cancels the flashes in progress.
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from gpiozero import Button

from flashjig.config import Config, Profile, StationConfig
from flashjig.flashing.images import Image, load_images
from flashjig.flashing.result import FlashResult
from flashjig.hardware.base import Hardware
from flashjig.hardware.leds import AliveLight, Look
from flashjig.hardware.printers import printer_for
from flashjig.station.journal import Journal
from flashjig.station.outbox import HeldOutcomes, ResultOutbox
from flashjig.station.socket import Socket
from flashjig.station.status import (
    LabelsStatus,
    SocketState,
    SocketStatus,
    StationStatus,
)

if TYPE_CHECKING:
    from flashjig.station.printing import LabelSpooler

log = logging.getLogger(__name__)

STOP_S = 20.0  # what a stop waits for cancelled flashes to wind down

# Told of every change of a socket's status (its new one), on the thread that made it.
SocketListener = Callable[[SocketStatus], None]
# Told that the station's own status changed (its profile, paused, the journal's health).
StationListener = Callable[[], None]


class Station:
    def __init__(
        self,
        config: Config,
        images: tuple[Image, ...],
        journal: Journal,
        *,
        hardware: Hardware,
        state_dir: Path | None = None,
    ) -> None:
        self.config = config
        self.images = images
        self.recovery_images = _recovery_images(config)
        self.journal = journal
        self.state_dir = state_dir
        # Why no new module is taken, besides a stop or a journal that cannot be written.
        self.paused: str | None = None
        # Outcomes the journal could not take (a full disk), held until it can.
        self.unrecorded = HeldOutcomes()
        self.outbox = ResultOutbox(journal, self.unrecorded)
        self.journal_problem: str | None = None
        self._stopping = False
        self.healthy = False  # the daemon's verdict on itself (set_healthy)
        self.started_at = time.time()
        self._listeners: list[tuple[SocketListener, StationListener | None]] = []
        self._broker: str | None = None  # the MQTT connection in words, while reported
        self.hardware = hardware
        self._lock = threading.Lock()
        self._held = False
        self._pressed_at = 0.0
        self._press = threading.Lock()  # hold (gpiozero's hold thread) against release
        self.sockets = {s.name: Socket(s, self) for s in config.sockets}
        self.spooler = _spooler(config, journal)
        self.button: Button | None = None
        if config.station.button is not None:
            self.button = Button(
                config.station.button,
                pull_up=True,
                hold_time=config.station.hold_time,
                pin_factory=hardware.pin_factory,
            )
            self.button.when_pressed = self._pressed
            self.button.when_held = self._long_press
            self.button.when_released = self._released
        self.alive: AliveLight | None = None
        if config.station.status_led is not None:
            self.alive = AliveLight(config.station.status_led, pin_factory=hardware.pin_factory)

    # -- what sockets ask of the station (flashjig.station.socket.Workshop) --------------

    @property
    def settings(self) -> StationConfig:
        return self.config.station

    @property
    def accepting(self) -> bool:
        """Whether a new module may be flashed: not while stopping, paused, or unable to
        record the outcome."""
        return not self._stopping and self.paused is None and self.journal_problem is None

    def job_inputs(self, recovery: bool = False) -> tuple[Profile, tuple[Image, ...]]:
        with self._lock:
            if recovery:
                name = self.config.station.recovery_profile
                assert name is not None  # only a station with one asks for a recovery flash
                return self.config.profiles[name], self.recovery_images
            return self.config.profile, self.images

    def keep_unrecorded(self, row: int, result: FlashResult, error: Exception) -> None:
        """The journal would not take an outcome (a full disk): hold it in memory, and take
        no new module until it can be recorded (``record_unrecorded``)."""
        held = self.unrecorded.keep(row, result)
        with self._lock:
            first = self.journal_problem is None
            self.journal_problem = (
                f"journal {self.journal.path} cannot be written ({error}): "
                f"{held} outcome(s) held in memory, no new modules taken"
            )
        self._show_health()
        self._station_changed()
        log.log(
            logging.ERROR if first else logging.WARNING,
            "%s: %s; %s's %s held until it can be recorded",
            result.socket,
            self.journal_problem,
            result.mac or "the module",
            result.outcome,
            extra={"SOCKET": result.socket, "MAC": result.mac or ""},
        )

    def record_unrecorded(self) -> None:
        """Try the held outcomes again (the daemon's loop, every tick); once all are in,
        take modules again."""
        if not self.unrecorded:
            return
        count = self.unrecorded.record(self.journal, label=self.config.station.prints_labels)
        if count is None:
            return
        with self._lock:
            self.journal_problem = None
        self._show_health()
        self._station_changed()
        log.warning("the journal takes writes again: %d held outcome(s) recorded", count)

    def socket_changed(self, socket: Socket) -> None:
        """Show a socket's change. Runs inside the socket's own transitions (on its worker,
        its timers, the control or MQTT thread): a light or listener that fails must not
        cut a transition short and leave the socket stuck, so the failure is logged."""
        status = socket.status
        _shown(socket.name, lambda: socket.lines.light.follow(lambda: socket.status.state.look))
        if self.spooler is not None and status.state is SocketState.OK:
            self.spooler.wake()  # its label was queued with the outcome
        for listener, _ in list(self._listeners):
            _shown(socket.name, partial(listener, status))

    def _station_changed(self) -> None:
        for _, listener in list(self._listeners):
            if listener is not None:
                _shown(None, listener)

    # -- what reporters ask of the station -----------------------------------------------

    def subscribe(
        self, socket_changed: SocketListener, station_changed: StationListener | None = None
    ) -> Callable[[], None]:
        """Tell ``socket_changed`` of every socket's change from now on, and
        ``station_changed`` of the station's own; call what this returns to stop. They run
        inside the change, on the thread that made it: they must be quick."""
        entry = (socket_changed, station_changed)
        self._listeners.append(entry)

        def unsubscribe() -> None:
            if entry in self._listeners:
                self._listeners.remove(entry)

        return unsubscribe

    def set_broker(self, connection: str | None) -> None:
        """How the MQTT connection is, in words, for the status (None: not reported)."""
        self._broker = connection

    # -- operation -----------------------------------------------------------------------

    def start(self) -> None:
        if self.spooler is not None:
            self.spooler.start()
        for socket in self.sockets.values():

            def look(socket: Socket = socket) -> Look:
                return socket.status.state.look

            socket.lines.light.follow(look)
            socket.start()
        self.set_healthy(True)
        log.info(
            "station %s ready: %d sockets, profile %s, trigger %s",
            self.config.station.id,
            len(self.sockets),
            self.config.active_profile,
            self.config.station.trigger,
        )

    def set_healthy(self, healthy: bool) -> None:
        """The daemon's verdict on itself (its control socket answers), every tick."""
        self.healthy = healthy
        self._show_health()

    def _show_health(self) -> None:
        """The station light beats while healthy, strobes while the journal cannot be
        written (modules are not taken), and is dark when the daemon is not well."""
        if self.alive is None:
            return
        if not self.healthy:
            self.alive.show(Look.OFF)
        elif self.journal_problem is not None:
            self.alive.show(Look.BAD)
        else:
            self.alive.show(Look.GOOD)

    def drain(self, why: str) -> list[str]:
        """Take no new module (an upgrade waits for the flashes in progress); the sockets
        still busy. Asked again, only says which are busy."""
        with self._lock:
            first = self.paused is None
            self.paused = why
        busy = [name for name, s in self.sockets.items() if s.busy]
        if first:
            self._station_changed()
            flashing = ", ".join(busy) or "none"
            log.warning("no new modules taken: %s; still flashing: %s", why, flashing)
        return busy

    def resume(self) -> None:
        with self._lock:
            was, self.paused = self.paused, None
        if was is not None:
            self._station_changed()
            log.warning("taking modules again (was: %s)", was)

    def flash_all(self) -> list[str]:
        """Flash every socket with a module not yet flashed; the names that started."""
        started = [name for name, s in self.sockets.items() if s.request_flash()]
        log.info("flash requested: %s", ", ".join(started) or "no socket ready")
        return started

    def flash_one(self, name: str) -> bool:
        return self.sockets[name].request_flash()

    def why_not_flashed(self, name: str) -> str:
        """Why asking to flash socket ``name`` started nothing, in words."""
        if self.paused is not None:
            return f"no new modules are taken: {self.paused}"
        if self.journal_problem is not None:
            return self.journal_problem
        state = self.sockets[name].status.state
        if state is SocketState.EMPTY:
            return f"{name} is empty"
        if state is SocketState.FLASHING:
            return f"{name} is flashing already"
        if state is SocketState.OK:
            return f"{name} holds a module flashed already (seat the next one)"
        return f"{name} is {state.value}"

    def cancel_all(self) -> list[str]:
        return self._cancel(list(self.sockets))

    def cancel_one(self, name: str) -> list[str]:
        return self._cancel([name])

    def _cancel(self, names: list[str]) -> list[str]:
        """Cancel what of ``names`` is flashing; those that were."""
        busy = [name for name in names if self.sockets[name].busy]
        for name in busy:
            self.sockets[name].cancel()
        log.info("cancel requested: %s", ", ".join(busy) or "nothing running")
        return busy

    def _long_press(self) -> None:
        """Cancel what is running; with nothing running, recover the seated modules."""
        button = self.button
        assert button is not None  # only the button's hold calls this
        with self._press:
            if not button.is_pressed:  # let go just as the hold time came: short
                return
            self._held = True
        if self.cancel_all() or self.config.station.recovery_profile is None:
            return
        started = [name for name, s in self.sockets.items() if s.request_flash(recovery=True)]
        log.info(
            "recovery (%s) requested: %s",
            self.config.station.recovery_profile,
            ", ".join(started) or "no module seated",
        )

    def _pressed(self) -> None:
        with self._press:
            self._pressed_at = time.monotonic()

    def _released(self) -> None:
        """A short press flashes. The end of a long press does not, nor does contact
        bounce (a press shorter than the debounce time): a button let go after a hold to
        cancel bounces, and those bounces must never start a flash. Our own timing, like
        the detect switches', so it holds on every pin backend."""
        with self._press:
            held, self._held = self._held, False
            pressed_s = time.monotonic() - self._pressed_at
        if not held and pressed_s >= self.config.station.debounce:
            self.flash_all()

    def reload(self, config: Config, images: tuple[Image, ...]) -> list[str]:
        """Take a new profile, images and settings; running flashes finish with the old
        ones. Wiring (sockets and pins) changes need a restart: say so, keep the old."""
        notes = []
        with self._lock:
            wiring_changed = (
                config.sockets != self.config.sockets
                or config.station.button != self.config.station.button
                or config.station.status_led != self.config.station.status_led
            )
            if wiring_changed:
                notes.append("socket wiring changed: restart the service to apply it")
                config = _keep_wiring(config, self.config)
            labels_changed = config.station.labels != self.config.station.labels
            self.config = config
            self.images = images
            self.recovery_images = _recovery_images(config)
        if labels_changed:  # the queue stays in the journal; the new printer takes it up
            if self.spooler is not None:
                self.spooler.stop()
            self.spooler = _spooler(config, self.journal)
            if self.spooler is not None:
                self.spooler.start()
        self._station_changed()
        return notes

    def set_profile(self, name: str) -> None:
        """Make another of the config's profiles active (its images checked first);
        running flashes finish with the old one."""
        images = load_images(self.config.profiles[name])
        with self._lock:
            self.config = replace(self.config, active_profile=name)
            self.images = images
        self._station_changed()

    def status(self) -> StationStatus:
        """The whole station now, built once for whoever shows it."""
        config = self.config
        spooler = self.spooler
        labels = self.journal.label_counts()
        return StationStatus(
            station=config.station.id,
            profile=config.active_profile,
            trigger=config.station.trigger,
            paused=self.paused,
            journal_problem=self.journal_problem,
            accepting=self.accepting,
            healthy=self.healthy,
            uptime_s=time.time() - self.started_at,
            today=self.journal.counts(since=local_midnight()),
            total=self.journal.counts(),
            sockets=tuple(s.status for s in self.sockets.values()),
            labels=LabelsStatus(
                waiting=labels.waiting,
                failed=labels.failed,
                last_failure=labels.last_failure,
                problem=spooler.problem if spooler else "",
            ),
            broker=self._broker,
            serial_range=config.station.serial_range if config.profile.identity else None,
            batch=config.station.batch,
            profiles=tuple(config.profiles),
        )

    def stop(self) -> None:
        """Stop taking work, cancel running flashes (modules stay in their bootloader,
        journal rows say cancelled), release every pin."""
        self._stopping = True
        self.cancel_all()
        # Every socket was told at once; they wind down together, against one deadline
        # well inside the unit's TimeoutStopSec (30 s), not one after another.
        deadline = time.monotonic() + STOP_S
        for socket in self.sockets.values():
            socket.join(max(0.0, deadline - time.monotonic()))
        for socket in self.sockets.values():
            socket.close(join_s=0.0)
        if self.button is not None:
            self.button.close()
        if self.alive is not None:
            self.alive.close()
        if self.spooler is not None:
            self.spooler.stop()


def _spooler(config: Config, journal: Journal) -> "LabelSpooler | None":
    labels = config.station.labels
    if not config.station.prints_labels or labels.printer is None:
        return None
    # Loaded by a station that prints: segno and Pillow are not every station's.
    from flashjig.station.printing import LabelSpooler

    return LabelSpooler(journal, printer_for(labels.printer), labels.layout)


def _recovery_images(config: Config) -> tuple[Image, ...]:
    name = config.station.recovery_profile
    return load_images(config.profiles[name]) if name else ()


def _keep_wiring(new: Config, old: Config) -> Config:
    station = replace(new.station, button=old.station.button, status_led=old.station.status_led)
    return replace(new, sockets=old.sockets, station=station)


def local_midnight() -> datetime:
    now = datetime.now().astimezone()
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def _shown(socket: str | None, show: Callable[[], None]) -> None:
    """Show a change of ``socket`` (None: of the station); a light or listener that fails
    is logged, and the change goes on."""
    try:
        show()
    except Exception:
        if socket is None:
            log.exception("showing the station's new state failed")
        else:
            log.exception("%s: showing its new state failed", socket, extra={"SOCKET": socket})
