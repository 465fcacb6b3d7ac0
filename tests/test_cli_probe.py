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
    verdicts = capsys.readouterr().out.strip().splitlines()[-5:]
    for n, verdict in enumerate(verdicts, 1):
        assert verdict.startswith(
            f"socket{n}: FAIL: detect switch not seen, button not seen, serial missing"
        )


def test_probe_on_real_pins_asks_first(shipped_copy):
    run = flashjig("probe", "--config", str(shipped_copy), stdin=subprocess.DEVNULL)
    assert run.returncode == 2
    assert "--yes" in run.stderr
