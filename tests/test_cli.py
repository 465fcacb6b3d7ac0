"""The flashjig command as a user (or an outside check) runs it."""

import json
import subprocess
import sys

import pytest
from helpers import flashjig

from flashjig.cli import build_parser


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


def test_bad_config_is_one_line_exit_2(station_config, tmp_path):
    text = station_config.path.read_text()
    line = text.splitlines().index("  id: bench-1") + 1
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("  id: bench-1", "  idd: bench-1"))
    run = flashjig("flash", "--simulate", "--socket", "socket1", "--config", str(bad))
    assert run.returncode == 2
    assert run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1
    assert f"bad.yaml:{line}: station.idd: unknown key 'idd'" in lines[0]


def test_unknown_socket_is_one_line_exit_2(station_config):
    run = flashjig("flash", "--simulate", "--socket", "nope", "--config", str(station_config.path))
    assert run.returncode == 2
    assert len(run.stderr.strip().splitlines()) == 1
    assert "nope" in run.stderr


def test_firmware_command_builds_an_image_esptool_accepts(tmp_path):
    out = tmp_path / "fw.bin"
    run = flashjig("firmware", str(out), "--size", "0x40000")
    assert run.returncode == 0, run.stderr
    assert out.stat().st_size == 0x40000
    info = subprocess.run(
        [sys.executable, "-m", "esptool", "--chip", "esp8266", "image-info", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert info.returncode == 0, info.stdout + info.stderr
    assert "(valid)" in info.stdout


@pytest.mark.parametrize(
    "command",
    [
        "sim",
        "flash",
        "firmware",
        "run",
        "status",
        "history",
        "ctl",
        "demo",
        "check-config",
        "probe",
        "restore",
        "backups",
        "report",
    ],
)
def test_every_subcommand_has_help_and_common_options(command):
    run = flashjig(command, "--help")
    assert run.returncode == 0
    assert "--config" in run.stdout and "--state-dir" in run.stdout


def test_common_options_parse_after_the_subcommand():
    args = build_parser().parse_args(
        ["flash", "--socket", "s", "--state-dir", "/x", "--config", "/y.yaml"]
    )
    assert str(args.state_dir) == "/x" and str(args.config) == "/y.yaml"


def test_demo_flashes_five_simulated_modules(tmp_path):
    run = flashjig("demo", "--fast", "--state-dir", str(tmp_path))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "5 of 5 modules flashed and verified" in run.stdout
    for n in range(1, 6):
        assert f"socket{n}: ok" in run.stdout
    history = flashjig("history", "--json", "--state-dir", str(tmp_path))
    assert [r["result"] for r in json.loads(history.stdout)] == ["ok"] * 5
