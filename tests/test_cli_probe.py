"""``flashjig probe``: a built station checked socket by socket (simulated here), and on
real pins only when asked to."""

import argparse
import re
import subprocess

import pytest
from conftest import write_station_config
from helpers import flashjig

from flashjig.cli import probe


@pytest.mark.slow
def test_probe_simulate_passes_every_socket(tmp_path, firmware_1m):
    path = write_station_config(tmp_path, [(0, firmware_1m)])
    run = flashjig("probe", "--simulate", "--config", str(path), "--state-dir", str(tmp_path))
    assert run.returncode == 0, run.stdout + run.stderr
    verdicts = run.stdout.strip().splitlines()[-5:]
    assert len(verdicts) == 5, run.stdout  # one for each socket, none left unchecked
    for n, verdict in enumerate(verdicts, 1):
        assert verdict.startswith(f"socket{n}: pass: detect switch ok, button ok, serial /dev/")
        assert re.search(r"ROM bootloader answered \(MAC 5c:cf:7f(:[0-9a-f]{2}){3}\)$", verdict)


@pytest.mark.slow
def test_probe_times_out_when_nobody_seats_a_module(shipped_copy, monkeypatch, capsys):
    class Nobody:
        def __init__(self, hardware) -> None:
            pass

        def seat(self, socket, button) -> None:
            pass

    monkeypatch.setattr(probe, "_SimulatedPerson", Nobody)
    monkeypatch.setattr(probe, "SIM_STEP_S", 0.2)
    args = argparse.Namespace(config=shipped_copy, state_dir=None, simulate=True, yes=False)
    assert probe.run_probe(args) == 1
    out = capsys.readouterr().out
    verdicts = out.strip().splitlines()[-5:]
    assert len(verdicts) == 5, out  # one for each socket, none left unchecked
    for n, verdict in enumerate(verdicts, 1):
        assert verdict.startswith(
            f"socket{n}: FAIL: detect switch not seen, button not seen, serial missing"
        )


def test_probe_on_real_pins_asks_first(shipped_copy):
    run = flashjig("probe", "--config", str(shipped_copy), stdin=subprocess.DEVNULL)
    assert run.returncode == 2
    assert "--yes" in run.stderr


@pytest.mark.slow
def test_probe_fails_the_sockets_whose_wiring_does_not_work(shipped_copy, monkeypatch, capsys):
    """A GPIO0 line stuck low, a power switch that does not switch, a detect switch stuck
    closed: each socket answers its ROM bootloader, and each fails for what is wrong."""
    from flashjig.emulator.module import StrapPin
    from flashjig.simulation.hardware import ModuleSpec

    class Saboteur(probe._SimulatedPerson):
        def __init__(self, hardware) -> None:
            super().__init__(hardware)
            config = hardware.config
            hardware.pin_factory.pin(config.socket("socket4").detect).close_switch()

        def insert(self, socket) -> None:
            hw = self.hardware
            if socket.name == "socket2":  # its GPIO0 on a line held low
                stuck = hw.pin_factory.pin("GPIO1", pin_class=StrapPin)
                stuck.output_with_state(False)
                hw.insert(socket.name, ModuleSpec(boot="GPIO1"))
            elif socket.name == "socket3":  # its switch always on
                module = hw.insert(socket.name)
                hw.pin_factory.pin(socket.power).listeners.clear()
                module.set_power(True)
            else:
                hw.insert(socket.name)

    monkeypatch.setattr(probe, "_SimulatedPerson", Saboteur)
    monkeypatch.setattr(probe, "SIM_STEP_S", 1.0)
    args = argparse.Namespace(config=shipped_copy, state_dir=None, simulate=True, yes=False)
    assert probe.run_probe(args) == 1
    verdicts = dict(
        line.split(": ", 1) for line in capsys.readouterr().out.strip().splitlines()[-5:]
    )
    assert verdicts["socket1"].startswith("pass") and verdicts["socket5"].startswith("pass")
    assert "GPIO0 release FAILS" in verdicts["socket2"] and "stuck low" in verdicts["socket2"]
    assert "power off FAILS" in verdicts["socket3"] and "power off" in verdicts["socket3"]
    assert verdicts["socket4"].startswith("FAIL: detect switch not seen")


def test_probe_claims_its_pins_on_the_header_chip_as_the_daemon_does(
    shipped_copy, monkeypatch, capsys
):
    """On the Pi, probe's pins come from the daemon's hardware (PiHardware), whose factory is
    on the GPIO chip found by its label: not gpiozero's own choice (gpiochip4 on gpiozero
    2.0.1, the wrong chip on a Pi 5 with a newer kernel)."""
    from flashjig.hardware import pi

    looked_up = []

    def no_header_chip():  # as on a board without one
        looked_up.append(True)
        return pi.header_chip({0: "gpio-mockup-A"})

    monkeypatch.setattr(pi, "_header_factory", no_header_chip)
    monkeypatch.setattr(probe, "STEP_S", 0.1)  # a probe on gpiozero's choice walks the sockets
    args = argparse.Namespace(config=shipped_copy, state_dir=None, simulate=False, yes=True)
    assert probe.run_probe(args) == 1
    assert looked_up == [True]
    assert capsys.readouterr().err == (
        "flashjig probe: cannot claim the station's pins: no GPIO chip labelled pinctrl-rp1 or "
        "pinctrl-bcm2711 or pinctrl-bcm2835 (found: gpiochip0 'gpio-mockup-A'): is this a "
        "Raspberry Pi 3 B+, 4, 5 or Zero 2 W?\n"
    )
