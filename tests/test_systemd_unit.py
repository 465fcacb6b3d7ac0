"""systemd/flashjig.service: the settings it must have, `systemd-analyze verify` without a
warning, and its security exposure."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


UNIT = ROOT / "systemd" / "flashjig.service"


EXEC_START = "/opt/flashjig/venv/bin/flashjig"


# ./jig test installs systemd's tools as root (as CI runs it): missing there, these fail.
needs_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None and os.geteuid() != 0,
    reason="systemd-analyze not installed",
)


def unit_settings(text: str) -> dict[str, list[str]]:
    """Key -> values (keys may repeat) of a unit file, comments and sections dropped."""
    settings: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def analyze(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["systemd-analyze", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "SYSTEMD_COLORS": "0", "SYSTEMD_PAGER": ""},
    )


def test_unit_has_the_required_settings():
    settings = unit_settings(UNIT.read_text())
    expected = {
        "Type": "notify",
        "NotifyAccess": "main",
        "ExecStart": f"{EXEC_START} run --config /etc/flashjig/flashjig.yaml "
        "--state-dir /var/lib/flashjig",
        "ExecReload": "/bin/kill -HUP $MAINPID",
        "Restart": "on-failure",
        "WatchdogSec": "30",
        "TimeoutStopSec": "30",
        "User": "flashjig",
        "SupplementaryGroups": "gpio dialout lp",
        "StateDirectory": "flashjig",
        "StateDirectoryMode": "0750",
        "RuntimeDirectory": "flashjig",
        "RuntimeDirectoryMode": "0750",
        "ConfigurationDirectory": "flashjig",
        "WorkingDirectory": "/var/lib/flashjig",
        "Environment": "GPIOZERO_PIN_FACTORY=lgpio",
        "DevicePolicy": "closed",
        "ProtectSystem": "strict",
        "CapabilityBoundingSet": "",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6 AF_NETLINK",
        "MemoryDenyWriteExecute": "yes",
        "ProtectProc": "invisible",
        "WantedBy": "multi-user.target",
    }
    for key, value in expected.items():
        assert settings.get(key) == [value], key
    assert settings["DeviceAllow"] == [
        "char-gpiochip rw",
        "char-ttyUSB rw",
        "char-ttyACM rw",
        "char-usb rw",  # USB label printers, /dev/usb/lpN (tests/test_systemd_printers.py)
    ]
    assert "@system-service" in settings["SystemCallFilter"]
    # char-ttyUSB/char-ttyACM only resolve once their drivers are loaded.
    after = " ".join(settings["After"]).split()
    assert "modprobe@usbserial.service" in after
    assert "modprobe@cdc_acm.service" in after


@needs_analyze
def test_unit_verifies(tmp_path):
    """`systemd-analyze verify` checks that ExecStart's binary exists, and it is only
    installed on a Pi. The shipped unit is therefore verified twice: as is, where the only
    complaint allowed is that missing binary; and as a copy in tmp_path whose ExecStart
    names a stub executable (same arguments, every other line unchanged), which must pass
    without a single warning (verify exits 0 even on unknown keys, so stderr must be empty).
    """
    as_is = analyze("verify", str(UNIT))
    if as_is.returncode != 0:
        complaints = as_is.stderr.strip().splitlines()
        assert complaints, as_is
        assert all(EXEC_START in line for line in complaints), as_is.stderr

    stub = tmp_path / "flashjig"
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    text = UNIT.read_text()
    assert text.count(f"ExecStart={EXEC_START} ") == 1
    copy = tmp_path / "flashjig.service"
    copy.write_text(text.replace(f"ExecStart={EXEC_START} ", f"ExecStart={stub} "))
    result = analyze("verify", str(copy))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


@needs_analyze
def test_unit_security_rating_at_most_2():
    result = analyze("security", "--offline=true", "--threshold=20", str(UNIT))
    assert result.returncode == 0, result.stdout + result.stderr
    match = re.search(r"Overall exposure level for flashjig\.service: (\d+\.\d+)", result.stdout)
    assert match, result.stdout
    assert float(match.group(1)) <= 2.0


def test_the_file_limit_leaves_room_beyond_the_pages_connections():
    """The page turns connections away at MAX_CONNECTIONS so that the daemon keeps
    descriptors for its ports, journal and sockets: the limit must be set, and above it."""
    from flashjig.web.server import MAX_CONNECTIONS

    [limit] = unit_settings(UNIT.read_text())["LimitNOFILE"]
    assert int(limit) >= MAX_CONNECTIONS + 256
