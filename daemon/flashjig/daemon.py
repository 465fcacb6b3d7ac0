"""``flashjig run``: the station as a long-running service.

Order of start-up matters: config and images are checked before any pin is touched,
then the journal, the pins and the control socket; only then READY=1. SIGHUP reloads
the config (a bad one is refused and the old one keeps running), SIGTERM stops taking
work, cancels running flashes cleanly and exits 0.
"""

import faulthandler
import logging
import signal
import threading
from collections import Counter
from pathlib import Path

from flashjig import backups, paths
from flashjig.backups import BackupError
from flashjig.config import Config, ConfigError, load_config
from flashjig.control import ControlError, ControlServer
from flashjig.emulator.faults import named_fault
from flashjig.images import ImageError, load_images
from flashjig.journal import JOURNAL_FILE, Journal
from flashjig.logs import setup_logging
from flashjig.service import Notifier
from flashjig.simulation import ModuleSpec, SimulatedHardware
from flashjig.station import Station, local_midnight

log = logging.getLogger(__name__)

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def summary(station: Station) -> str:
    """One line for systemd's STATUS=."""
    states = Counter(s.status.state.value for s in station.sockets.values())
    today = station.journal.counts(since=local_midnight())
    parts = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
    return f"{parts}; today {today['ok']} ok, {today['failed']} failed"


class Daemon:
    def __init__(
        self,
        config_path: Path,
        state_dir: Path | None,
        *,
        simulate: bool = False,
        line_rate: bool = False,
    ) -> None:
        self.config_path = config_path
        self.state_dir = paths.state_dir(state_dir)
        self.simulate = simulate
        self.line_rate = line_rate
        self.notifier = Notifier()
        self._stop = threading.Event()
        self._reload = threading.Event()
        self._reloading = threading.Lock()  # SIGHUP and `flashjig ctl reload` at once
        self.hardware = None
        self.station: Station | None = None
        self.reporter = None

    def load(self) -> tuple[Config, tuple]:
        config = load_config(self.config_path)
        return config, load_images(config.profile)

    def run(self) -> int:
        try:
            config, images = self.load()
        except (ConfigError, ImageError) as e:
            log.error("not starting: %s", e)
            return EXIT_BAD_INPUT
        if any(p.backup == "before_write" for p in config.profiles.values()):
            try:
                backups.check_room(self.state_dir, backups.START_ROOM)
            except BackupError as e:
                log.error("not starting: %s", e)
                return EXIT_FAILED
        journal = Journal(self.state_dir / JOURNAL_FILE, station=config.station.id)
        if journal.recovered:
            log.warning(
                "%d attempt(s) were cut short by the last stop; marked interrupted",
                journal.recovered,
            )
        control = None
        try:
            port = self._hardware(config)
            self.station = station = Station(
                config,
                images,
                journal,
                port=port,
                pin_factory=self.hardware.pin_factory if self.hardware else None,
                state_dir=self.state_dir,
            )
            try:
                control = ControlServer(paths.control_socket(self.state_dir), self.handle)
            except ControlError as e:
                log.error("not starting: %s", e)
                return EXIT_FAILED
            # `kill -USR1` dumps every thread's stack to the log: for a station that hangs.
            faulthandler.register(signal.SIGUSR1, all_threads=True)
            for sig, handler in (
                (signal.SIGTERM, lambda *_: self._stop.set()),
                (signal.SIGINT, lambda *_: self._stop.set()),
                (signal.SIGHUP, lambda *_: self._reload.set()),
            ):
                signal.signal(sig, handler)
            station.start()
            control.start()
            if config.mqtt is not None:
                self.reporter = self._reporter(config)
            self.notifier.ready(summary(station))
            log.info("control socket at %s", control.path)
            self._loop(station, control)
            log.info("stopping: cancelling running flashes")
            self.notifier.stopping()
            return EXIT_OK
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

    def _reporter(self, config: Config):
        from flashjig.mqtt import MqttReporter

        reporter = MqttReporter(config, self.station, self.station.journal, self.state_dir)
        reporter.start()
        return reporter

    def _hardware(self, config: Config):
        if self.simulate:
            self.hardware = SimulatedHardware(config, insert_all=False, line_rate=self.line_rate)
            return self.hardware.port
        for socket in config.sockets:
            if not Path(socket.serial).exists():
                log.warning(
                    "%s: serial device %s is missing (adapter unplugged?)",
                    socket.name,
                    socket.serial,
                    extra={"SOCKET": socket.name},
                )
        sockets = {s.name: s.serial for s in config.sockets}
        return sockets.__getitem__

    def _loop(self, station: Station, control: ControlServer) -> None:
        tick = min(1.0, self.notifier.watchdog_interval or 1.0)
        while not self._stop.wait(tick):
            if self._reload.is_set():
                self._reload.clear()
                self.reload()
            healthy = control.alive
            station.set_healthy(healthy)
            if healthy:
                self.notifier.watchdog()
            self.notifier.status(summary(station))

    def reload(self) -> bool:
        """Apply a changed config or image; refuse a bad one and keep the old."""
        with self._reloading:
            return self._reload_config()

    def _reload_config(self) -> bool:
        self.notifier.reloading()
        try:
            config, images = self.load()
        except (ConfigError, ImageError) as e:
            log.error("reload refused, keeping the running config: %s", e)
            self.notifier.ready(summary(self.station))
            return False
        for note in self.station.reload(config, images):
            log.warning("reload: %s", note)
        if self.reporter is not None or config.mqtt is not None:
            # Broker settings, profiles or names may have changed: start over cleanly.
            if self.reporter is not None:
                self.reporter.stop()
                self.reporter = None
            if config.mqtt is not None:
                self.reporter = self._reporter(self.station.config)
        log.info("reloaded %s: profile %s", self.config_path, config.active_profile)
        self.notifier.ready(summary(self.station))
        return True

    # -- control requests ----------------------------------------------------------------

    def handle(self, request: dict) -> dict:
        station = self.station
        cmd = request["cmd"]
        if cmd == "status":
            return {"ok": True, "status": station.status()}
        if cmd == "flash":
            name = request.get("socket")
            if name is None:
                return {"ok": True, "started": station.flash_all()}
            self._known(name)
            return {"ok": True, "started": [name] if station.flash_one(name) else []}
        if cmd == "cancel":
            return {"ok": True, "cancelled": station.cancel_all()}
        if cmd == "reload":
            return {"ok": self.reload()}
        if cmd in ("insert", "remove", "press"):
            return self._simulated(cmd, request)
        raise ControlError(f"unknown command {cmd!r}")

    def _known(self, name) -> None:
        if name not in self.station.sockets:
            known = ", ".join(self.station.sockets)
            raise ControlError(f"unknown socket {name!r} (known: {known})")

    def _simulated(self, cmd: str, request: dict) -> dict:
        if self.hardware is None:
            raise ControlError(f"'{cmd}' needs a simulated station (flashjig run --simulate)")
        if cmd == "press":
            hold = float(request.get("hold") or 0.15)
            if not 0 < hold <= 60:
                raise ControlError("hold must be between 0 and 60 seconds")
            self.hardware.press(hold)
            return {"ok": True}
        name = request.get("socket")
        self._known(name)
        try:
            if cmd == "insert":
                try:
                    faults = named_fault(request.get("fault") or "none")
                except ValueError as e:
                    raise ControlError(str(e)) from None
                spec = ModuleSpec(faults=faults)
                module = self.hardware.insert(name, spec)
                return {"ok": True, "mac": module.mac_text}
            self.hardware.remove(name)
        except ValueError as e:
            raise ControlError(str(e)) from None
        return {"ok": True}


def run(
    config_path: Path,
    state_dir: Path | None,
    *,
    simulate: bool,
    line_rate: bool,
    verbose: bool = False,
) -> int:
    setup_logging(verbose=verbose)
    return Daemon(config_path, state_dir, simulate=simulate, line_rate=line_rate).run()
