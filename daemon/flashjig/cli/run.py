"""``flashjig run``: the station daemon, on the Pi's hardware or, with --simulate, on mock
pins and emulated modules. This is where the daemon is handed its hardware and its
reporters (MQTT, the status page): the station layer imports neither the simulation, MQTT
nor the web server."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from flashjig.cli.common import Subparsers, config_path, parse_since
from flashjig.cli.hardware_choice import choose_hardware
from flashjig.config import Config

if TYPE_CHECKING:  # the station (and Pillow, for its labels) loads when `run` runs
    from flashjig.station.commands import StationCommands
    from flashjig.station.daemon import Reporter


def add_parser(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    run_ = sub.add_parser(
        "run",
        parents=[common],
        help="run the station (what systemd starts)",
        description="Run the station: watch sockets and the button, flash, journal every "
        "attempt. SIGHUP reloads the config, SIGTERM stops cleanly.",
    )
    run_.add_argument(
        "--simulate",
        action="store_true",
        help="mock pins and emulated modules; drive them with 'flashjig ctl'",
    )
    run_.add_argument("--line-rate", action="store_true", help="with --simulate: model wire time")
    run_.add_argument("-v", "--verbose", action="store_true", help="log esptool's own lines too")
    run_.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from flashjig.station.daemon import run as run_daemon

    return run_daemon(
        config_path(args),
        args.state_dir,
        hardware=lambda config: choose_hardware(config, args),  # again on each reload
        reporter=reporters,
        verbose=args.verbose,
    )


def reporters(config: Config, commands: StationCommands, state_dir: Path) -> Reporter:
    """The config's MQTT reporter and status page, started and stopped together. paho and
    aiohttp are imported only by a station that has their section."""
    parts: list[Reporter] = []
    if config.mqtt is not None:
        from flashjig.mqtt.reporter import MqttReporter

        parts.append(MqttReporter(config, commands, state_dir))
    if config.web is not None:
        from flashjig.web.server import StatusPage

        parts.append(StatusPage(config.web, commands, parse_since=parse_since))
    return _Reporters(parts)


class _Reporters:
    def __init__(self, parts: list[Reporter]) -> None:
        self.parts = parts

    def start(self) -> None:
        for part in self.parts:
            part.start()

    def stop(self) -> None:
        for part in reversed(self.parts):
            part.stop()
