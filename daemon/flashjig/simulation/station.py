"""A started station over simulated hardware: the demo's, and the tests'."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from flashjig.config import Config
from flashjig.flashing.images import load_images
from flashjig.simulation.hardware import SimulatedHardware
from flashjig.station.journal import JOURNAL_FILE, Journal
from flashjig.station.station import Station


@contextlib.contextmanager
def simulated_station(
    config: Config, state_dir: Path, *, line_rate: bool = False
) -> Iterator[tuple[Station, SimulatedHardware, Journal]]:
    """A started station over simulated hardware, no module seated yet, its journal and
    backups in ``state_dir`` (the demo's, and the tests'); all closed on the way out."""
    hardware = SimulatedHardware(config, insert_all=False, line_rate=line_rate)
    journal = Journal(state_dir / JOURNAL_FILE, station=config.station.id)
    station = Station(
        config,
        load_images(config.profile),
        journal,
        hardware=hardware,
        state_dir=state_dir,
    )
    try:
        station.start()
        yield station, hardware, journal
    finally:
        station.stop()
        hardware.close()
        journal.close()
