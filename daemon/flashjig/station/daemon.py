"""``flashjig run``: the station as a long-running service.

Order of start-up matters: config and images are checked before any pin is touched,
then the journal, the pins and the control socket; only then READY=1. SIGHUP reloads
the config (a bad one is refused and the old one keeps running), SIGTERM stops taking
work, cancels running flashes cleanly and exits 0.
"""

from __future__ import annotations

import faulthandler
import logging
import signal
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from flashjig.config import Backup, Config, load_config
from flashjig.errors import (
    BackupError,
    ConfigError,
    ControlError,
    ExitCode,
    ImageError,
    JournalError,
)
from flashjig.flashing import backups
from flashjig.flashing.images import Image, load_images
from flashjig.hardware.base import Hardware
from flashjig.station import paths
from flashjig.station.commands import StationCommands
from flashjig.station.control import ControlServer
from flashjig.station.journal import JOURNAL_FILE, Journal
from flashjig.station.logs import setup_logging
from flashjig.station.requests import ControlRequests
from flashjig.station.service import Notifier
from flashjig.station.station import Station

log = logging.getLogger(__name__)


class Reporter(Protocol):
    """Something that reports the station elsewhere while it runs (flashjig.mqtt, the
    status page of flashjig.web)."""

    def start(self) -> None: ...
    def stop(self) -> None: ...


# What the daemon is handed: the hardware it runs on, and a reporter for a config with an
# ``mqtt`` or ``web`` section (config, the station's commands, state directory).
HardwareFactory = Callable[[Config], Hardware]
ReporterFactory = Callable[[Config, StationCommands, Path], Reporter]


def load_station(path: Path) -> tuple[Config, tuple[Image, ...]]:
    """The config and the active profile's images, every check done, as the daemon takes
    them at start and on a reload (and ``flashjig check-config`` checks them): the recovery
    profile's images are checked too. ConfigError or ImageError, nothing else."""
    config = load_config(path)
    if config.station.recovery_profile is not None:
        load_images(config.profiles[config.station.recovery_profile])
    return config, load_images(config.profile)


def summary(station: Station) -> str:
    """One line for systemd's STATUS=."""
    status = station.status()
    states = Counter(s.state.value for s in status.sockets)
    parts = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
    return f"{parts}; today {status.today.ok} ok, {status.today.failed} failed"


class Daemon:
    def __init__(
        self,
        config_path: Path,
        state_dir: Path | None,
        *,
        hardware: HardwareFactory,
        reporter: ReporterFactory | None = None,
    ) -> None:
        self.config_path = config_path
        self.state_dir = paths.state_dir(state_dir)
        self.make_hardware = hardware
        self.make_reporter = reporter
        self.notifier = Notifier()
        self._stop = threading.Event()
        self._reload = threading.Event()
        self._reloading = threading.Lock()  # SIGHUP and `flashjig ctl reload` at once
        self.hardware: Hardware | None = None
        self.station: Station | None = None
        self.commands: StationCommands | None = None
        self.reporter: Reporter | None = None

    def load(self) -> tuple[Config, tuple[Image, ...]]:
        return load_station(self.config_path)

    def run(self) -> int:
        try:
            config, images, journal = self._prepare()
        except _NotStarting as e:
            log.error("not starting: %s", e)
            return e.code
        control = None
        try:
            station, commands = self._station(config, images, journal)
            try:
                control = ControlServer(
                    paths.control_socket(self.state_dir), ControlRequests(commands)
                )
            except ControlError as e:
                log.error("not starting: %s", e)
                return ExitCode.FAILED
            self._take_signals()
            station.start()
            control.start()
            self.reporter = self._reporter(config, commands)
            if self.reporter is not None:
                self.reporter.start()
            self.notifier.ready(summary(station))
            log.info("control socket at %s", control.path)
            self._loop(station, control)
            log.info("stopping: cancelling running flashes")
            self.notifier.stopping()
            return ExitCode.OK
        finally:
            if self.station is not None:
                self.station.stop()
            if self.reporter is not None:
                self.reporter.stop()
            if control is not None:
                control.close()
            if self.hardware is not None:
                self.hardware.close()
            journal.close()

    def _prepare(self) -> tuple[Config, tuple[Image, ...], Journal]:
        """Everything checked before a pin is touched: the config and images, room for
        backups, the journal (open, interrupted attempts marked)."""
        try:
            config, images = self.load()
        except (ConfigError, ImageError) as e:
            raise _NotStarting(str(e), ExitCode.BAD_INPUT) from None
        if any(p.backup == Backup.BEFORE_WRITE for p in config.profiles.values()):
            try:
                backups.check_room(self.state_dir, backups.START_ROOM)
            except BackupError as e:
                raise _NotStarting(str(e), ExitCode.FAILED) from None
        path = self.state_dir / JOURNAL_FILE
        try:
            journal = Journal(path, station=config.station.id)
        except JournalError as e:  # cannot be made or written, or of a newer schema
            raise _NotStarting(f"journal {path}: {e}", ExitCode.FAILED) from None
        if journal.recovered:
            log.warning(
                "%d attempt(s) were cut short by the last stop; marked interrupted",
                journal.recovered,
            )
        return config, images, journal

    def _station(
        self, config: Config, images: tuple[Image, ...], journal: Journal
    ) -> tuple[Station, StationCommands]:
        """The hardware, the station on it, and its commands (kept for the stop and the
        reload)."""
        self.hardware = hardware = self.make_hardware(config)
        for socket, port in hardware.absent_ports().items():
            log.warning(
                "%s: serial device %s is missing (adapter unplugged?)",
                socket,
                port,
                extra={"SOCKET": socket},
            )
        self.station = station = Station(
            config, images, journal, hardware=hardware, state_dir=self.state_dir
        )
        self.commands = StationCommands(station, reload=self.reload, operator=hardware.operator)
        return station, self.commands

    def _take_signals(self) -> None:
        # `kill -USR1` dumps every thread's stack to the log: for a station that hangs.
        faulthandler.register(signal.SIGUSR1, all_threads=True)
        for sig, handler in (
            (signal.SIGTERM, lambda *_: self._stop.set()),
            (signal.SIGINT, lambda *_: self._stop.set()),
            (signal.SIGHUP, lambda *_: self._reload.set()),
        ):
            signal.signal(sig, handler)

    def _reporter(self, config: Config, commands: StationCommands) -> Reporter | None:
        """The reporter for ``config``, made but not started (None without an mqtt or web
        section): whatever can fail in making it fails before anything is changed."""
        if not _reports(config):
            return None
        if self.make_reporter is None:
            log.warning("this daemon has no reporter: the mqtt and web sections are ignored")
            return None
        return self.make_reporter(config, commands, self.state_dir)

    def _loop(self, station: Station, control: ControlServer) -> None:
        tick = min(1.0, self.notifier.watchdog_interval or 1.0)
        while not self._stop.wait(tick):
            if self._reload.is_set():
                self._reload.clear()
                self.reload()
            station.record_unrecorded()
            healthy = control.alive
            station.set_healthy(healthy)
            if healthy:
                self.notifier.watchdog()
            self.notifier.status(summary(station))

    def reload(self) -> str | None:
        """Apply a changed config or image; refuse a bad one and keep the old. None when
        applied, else why not (one line)."""
        with self._reloading:
            return self._reload_config()

    def _reload_config(self) -> str | None:
        station, commands = self.station, self.commands
        if station is None or commands is None:  # before the station is up: nothing yet
            return "the station is still starting"
        self.notifier.reloading()
        try:
            config, images = self.load()
            # Made before anything changes: one that cannot be made refuses the reload.
            reporter = self._reporter(config, commands)
        except Exception as e:  # any failure to load is a refused reload, never a stop
            reason = str(e) if isinstance(e, ConfigError | ImageError) else _unexpected(e)
            log.error("reload refused, keeping the running config: %s", reason)
            self.notifier.ready(summary(station))
            return reason
        for note in station.reload(config, images):
            log.warning("reload: %s", note)
        # Broker settings, profiles or names may have changed: start over cleanly.
        if self.reporter is not None:
            self.reporter.stop()
        self.reporter = reporter
        if reporter is not None:
            reporter.start()
        log.info("reloaded %s: profile %s", self.config_path, config.active_profile)
        self.notifier.ready(summary(station))
        return None


class _NotStarting(Exception):
    """Why the daemon does not start (one line), and the exit code that says so."""

    def __init__(self, why: str, code: ExitCode) -> None:
        super().__init__(why)
        self.code = code


def _unexpected(error: Exception) -> str:
    """A failure the loader did not foresee, in one line (a bug of ours: say what it was)."""
    text = " ".join(str(error).split()) or "no details"
    return f"{type(error).__name__}: {text}"


def _reports(config: Config) -> bool:
    return config.mqtt is not None or config.web is not None


def run(
    config_path: Path,
    state_dir: Path | None,
    *,
    hardware: HardwareFactory,
    reporter: ReporterFactory | None = None,
    verbose: bool = False,
) -> int:
    setup_logging(verbose=verbose)
    return Daemon(config_path, state_dir, hardware=hardware, reporter=reporter).run()
