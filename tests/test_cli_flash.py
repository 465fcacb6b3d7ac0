"""``flashjig flash``: the pipeline once on one socket, one JSON result, exit codes."""

import json

import pytest
from helpers import flashjig


@pytest.mark.slow
def test_flash_simulate_prints_one_json_result(station_config, tmp_path):
    run = flashjig(
        "flash",
        "--simulate",
        "--socket",
        "socket3",
        "--config",
        str(station_config.path),
        "--state-dir",
        str(tmp_path / "state"),
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert result["socket"] == "socket3"
    assert result["result"] == "ok" and result["reason"] == ""
    assert result["flash_size"] == "1MB"
    assert result["bytes"] == 0x100000
    assert result["mac"].count(":") == 5
    assert result["duration_s"] > 0
    # The station's fast start (station.sync_baud, 460800 by default), as the daemon's.
    assert (result["sync_baud"], result["stub_baud"], result["baud"]) == (460800, 460800, 921600)
    assert result["rate_fallback"] == ""


@pytest.mark.slow
def test_flash_simulate_failure_exits_1_with_reason(station_config):
    run = flashjig(
        "flash",
        "--socket",
        "socket1",
        "--simulate",
        "--sim-flash-size",
        "512KB",
        "--config",
        str(station_config.path),
    )
    assert run.returncode == 1
    result = json.loads(run.stdout)
    assert result["result"] == "failed"
    assert result["reason"] == "flash too small"


def test_unknown_socket_is_one_line_exit_2(station_config):
    run = flashjig("flash", "--simulate", "--socket", "nope", "--config", str(station_config.path))
    assert run.returncode == 2
    assert len(run.stderr.strip().splitlines()) == 1
    assert "nope" in run.stderr
