"""Which hardware a command runs on: one choice for run, flash, restore and probe, the Pi's
with its pins on the header's GPIO chip (found by label) as the daemon has them."""

import argparse

from gpiozero.pins.mock import MockFactory

from flashjig.cli import run as run_command
from flashjig.cli.hardware_choice import choose_hardware
from flashjig.config.sizes import BYTES
from flashjig.hardware import pi
from flashjig.hardware.pi import PiHardware
from flashjig.simulation.hardware import SimulatedHardware


def on_the_header(monkeypatch) -> MockFactory:
    """The pin factory the Pi's header-chip lookup gives (no GPIO chip here to open)."""
    factory = MockFactory()
    monkeypatch.setattr(pi, "_header_factory", lambda: factory)
    return factory


def test_without_simulate_it_is_the_pis_hardware_on_the_header_chip(station_config, monkeypatch):
    factory = on_the_header(monkeypatch)
    hardware = choose_hardware(station_config, argparse.Namespace(simulate=False))
    assert isinstance(hardware, PiHardware)
    assert hardware.pin_factory is factory
    assert hardware.port("socket1") == station_config.socket("socket1").serial
    hardware.close()


def test_simulate_seats_no_module_unless_told_which(station_config):
    args = argparse.Namespace(simulate=True, line_rate=True, sim_flash_size="2MB")
    with choose_hardware(station_config, args) as empty:
        assert isinstance(empty, SimulatedHardware)
        assert empty.modules == {} and empty.line_rate
    with choose_hardware(station_config, args, seat="socket2") as seated:
        assert set(seated.modules) == {s.name for s in station_config.sockets}
        assert seated.modules["socket2"].flash.size == BYTES["2MB"]
        assert seated.modules["socket1"].flash.size == BYTES["1MB"]


def test_probe_has_no_line_rate_option_and_gets_none(station_config):
    with choose_hardware(station_config, argparse.Namespace(simulate=True)) as hardware:
        assert not hardware.line_rate


def test_the_daemon_gets_the_same_pi_hardware(station_config, monkeypatch):
    """`flashjig run` hands the daemon the chooser's hardware, made again on each reload."""
    factory = on_the_header(monkeypatch)
    handed = {}

    def run_daemon(config_path, state_dir, **kwargs) -> int:
        handed.update(kwargs)
        return 0

    monkeypatch.setattr("flashjig.station.daemon.run", run_daemon)
    args = argparse.Namespace(
        config=station_config.path, state_dir=None, simulate=False, line_rate=False, verbose=False
    )
    assert run_command.run(args) == 0
    hardware = handed["hardware"](station_config)
    assert isinstance(hardware, PiHardware) and hardware.pin_factory is factory
    hardware.close()
