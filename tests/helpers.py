"""Helpers several test files share: the flashjig command, a seated socket, a running station."""

import contextlib
import subprocess
import sys
import weakref
from pathlib import Path

from flashjig.images import load_images
from flashjig.journal import JOURNAL_FILE, Journal
from flashjig.pins import StrapLine, power_switch
from flashjig.simulation import SimulatedHardware
from flashjig.station import Station
from flashjig.strapping import ModuleLines


def flashjig(*args, timeout=120, **kwargs):
    """Run the flashjig command in a fresh interpreter, as a user would, and capture it."""
    return subprocess.run(
        [sys.executable, "-m", "flashjig", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )


# Power switches kept on after their job, per hardware and socket, until the hardware goes.
_held_power = weakref.WeakKeyDictionary()


@contextlib.contextmanager
def seated(config, hardware, socket, *, keep_power=False):
    """The socket's strapping lines, and its power switch on if it has one, as the station
    holds them while a module is seated.

    keep_power leaves the power on after the block, as a station does while the module stays
    seated: for tests that look at the running module afterwards or flash it again."""
    sock = config.socket(socket)
    lines = ModuleLines(
        StrapLine(sock.gpio0, pin_factory=hardware.pin_factory),
        StrapLine(sock.en, pin_factory=hardware.pin_factory),
    )
    held = _held_power.setdefault(hardware, {})
    if socket in held:
        power = held[socket]
    else:
        power = power_switch(
            sock.power, active_low=sock.power_active_low, pin_factory=hardware.pin_factory
        )
        if keep_power:
            held[socket] = power
    if power is not None:
        power.on()
    try:
        yield lines
    finally:
        lines.close()
        if power is not None and socket not in held:
            power.close()


@contextlib.contextmanager
def running_station(config, state_dir: Path, *, line_rate=False):
    """A started station over simulated hardware with no module seated yet, journalling in
    state_dir; stopped and closed again on the way out, whatever the test did."""
    hardware = SimulatedHardware(config, insert_all=False, line_rate=line_rate)
    journal = Journal(state_dir / JOURNAL_FILE, station=config.station.id)
    station = Station(
        config,
        load_images(config.profile),
        journal,
        port=hardware.port,
        pin_factory=hardware.pin_factory,
    )
    try:
        station.start()
        yield station, hardware, journal
    finally:
        station.stop()
        hardware.close()
        journal.close()
