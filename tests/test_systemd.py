"""The systemd side: unit file, installer, sd_notify and journald logging."""

import logging
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from flashjig.station import logs, service
from flashjig.station.service import Notifier

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "systemd" / "flashjig.service"
INSTALL = ROOT / "systemd" / "install.sh"
EXEC_START = "/opt/flashjig/venv/bin/flashjig"

needs_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed"
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


# --- the unit file ---------------------------------------------------------------------


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
        "SupplementaryGroups": "gpio dialout",
        "StateDirectory": "flashjig",
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
    assert settings["DeviceAllow"] == ["char-gpiochip rw", "char-ttyUSB rw", "char-ttyACM rw"]
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


# --- Notifier ----------------------------------------------------------------------------


@pytest.fixture(params=["libsystemd", "datagram"])
def backend(request, monkeypatch):
    """Run each Notifier test through systemd-python and through the plain datagram."""
    if request.param == "libsystemd":
        if service._sd_daemon is None:
            pytest.skip("systemd-python not installed")
    else:
        monkeypatch.setattr(service, "_sd_daemon", None)
    return request.param


@pytest.fixture
def notify_socket(backend, monkeypatch):
    """A datagram socket standing in for systemd's, named by NOTIFY_SOCKET."""
    # AF_UNIX paths are limited to 108 bytes: stay short, not under pytest's tmp_path.
    directory = tempfile.mkdtemp(prefix="fj-notify-")
    path = os.path.join(directory, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(2)
    for name in ("WATCHDOG_USEC", "WATCHDOG_PID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    yield sock
    sock.close()
    shutil.rmtree(directory)


def received(sock: socket.socket) -> str:
    return sock.recv(4096).decode()


def assert_nothing_sent(sock: socket.socket) -> None:
    sock.setblocking(False)
    try:
        with pytest.raises(BlockingIOError):
            sock.recv(4096)
    finally:
        sock.settimeout(2)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_notifier_messages(notify_socket, monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "2000000")
    clock = Clock()
    notifier = Notifier(clock=clock)
    assert notifier.enabled
    assert notifier.watchdog_interval == 1.0

    notifier.ready("5 sockets idle")
    assert received(notify_socket) == "READY=1\nSTATUS=5 sockets idle"
    notifier.status("5 sockets idle")  # same as READY's status: not repeated
    notifier.status("socket1: flashing")
    assert received(notify_socket) == "STATUS=socket1: flashing"
    notifier.status("socket1: flashing")
    assert_nothing_sent(notify_socket)

    notifier.watchdog()
    assert received(notify_socket) == "WATCHDOG=1"
    clock.now += 0.5
    notifier.watchdog()
    assert_nothing_sent(notify_socket)
    clock.now += 0.5
    notifier.watchdog()
    assert received(notify_socket) == "WATCHDOG=1"

    notifier.reloading()
    assert re.fullmatch(r"RELOADING=1\nMONOTONIC_USEC=\d+", received(notify_socket))
    notifier.ready()
    assert received(notify_socket) == "READY=1"
    notifier.stopping()
    assert received(notify_socket) == "STOPPING=1"


def test_notifier_status_is_one_line(notify_socket):
    Notifier().status("socket1: failed\n  no sync")
    assert received(notify_socket) == "STATUS=socket1: failed no sync"


def test_notifier_abstract_socket(backend, monkeypatch):
    name = f"flashjig-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(2)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        Notifier().ready("up")
        assert received(sock) == "READY=1\nSTATUS=up"


def test_notifier_given_environ(notify_socket, monkeypatch):
    """An environ other than the process's is honoured, even though libsystemd would read
    the process's NOTIFY_SOCKET."""
    path = notify_socket.getsockname()
    monkeypatch.delenv("NOTIFY_SOCKET")
    notifier = Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "30000000"})
    assert notifier.watchdog_interval == 15.0
    notifier.stopping()
    assert received(notify_socket) == "STOPPING=1"


def test_notifier_without_watchdog(notify_socket):
    notifier = Notifier()
    assert notifier.watchdog_interval is None
    notifier.watchdog()
    assert_nothing_sent(notify_socket)


def test_notifier_watchdog_for_another_process(notify_socket, monkeypatch):
    monkeypatch.setenv("WATCHDOG_USEC", "2000000")
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    notifier = Notifier()
    assert notifier.watchdog_interval is None
    notifier.watchdog()
    assert_nothing_sent(notify_socket)
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert Notifier().watchdog_interval == 1.0


def test_notifier_without_notify_socket(notify_socket, monkeypatch):
    monkeypatch.delenv("NOTIFY_SOCKET")
    monkeypatch.setenv("WATCHDOG_USEC", "2000000")
    notifier = Notifier()
    assert not notifier.enabled
    notifier.ready("up")
    notifier.status("busy")
    notifier.watchdog()
    notifier.reloading()
    notifier.stopping()
    assert_nothing_sent(notify_socket)


def test_notifier_socket_gone_is_logged_once(backend, monkeypatch, caplog, tmp_path):
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "missing"))
    notifier = Notifier()
    with caplog.at_level(logging.WARNING, logger="flashjig.service"):
        notifier.ready()
        notifier.stopping()
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "sd_notify" in caplog.text


# --- logging -----------------------------------------------------------------------------


@pytest.fixture
def clean_logging(monkeypatch):
    """Undo setup_logging's root handler and level after the test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    for name in ("INVOCATION_ID", "JOURNAL_STREAM"):
        monkeypatch.delenv(name, raising=False)
    yield
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


def log_flashed() -> None:
    logging.getLogger("flashjig.test").warning(
        "socket1: flashed %s",
        "5c:cf:7f:01:02:03",
        extra={"SOCKET": "socket1", "MAC": "5c:cf:7f:01:02:03", "RESULT": "ok"},
    )


def test_logs_to_stderr_with_timestamp(clean_logging, capfd):
    logs.setup_logging()
    log_flashed()
    err = capfd.readouterr().err
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} flashjig: WARNING: socket1: flashed "
        r"5c:cf:7f:01:02:03\n",
        err,
    ), err


def test_logs_to_a_terminal_without_timestamp(clean_logging, capfd, monkeypatch):
    monkeypatch.setattr(logs, "_stderr_isatty", lambda: True)
    monkeypatch.setenv("INVOCATION_ID", "0123456789abcdef")  # inherited, not our service
    logs.setup_logging()
    log_flashed()
    assert capfd.readouterr().err == "flashjig: WARNING: socket1: flashed 5c:cf:7f:01:02:03\n"


def test_logs_levels(clean_logging, capfd):
    logs.setup_logging()
    log = logging.getLogger("flashjig.test")
    log.info("shown")
    log.debug("hidden")
    logs.setup_logging(verbose=True)
    log.debug("detail")
    err = capfd.readouterr().err
    assert "INFO: shown" in err
    assert "hidden" not in err
    assert "DEBUG: detail" in err
    assert sum(getattr(h, "_flashjig", False) for h in logging.getLogger().handlers) == 1


def test_logs_to_journal_stream_without_systemd_python(clean_logging, capfd, monkeypatch):
    """Stderr connected to journald: no timestamp, a priority prefix instead."""
    monkeypatch.setattr(logs, "JournalHandler", None)
    st = os.fstat(sys.stderr.fileno())
    monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")
    logs.setup_logging()
    log_flashed()
    assert capfd.readouterr().err == "<4>flashjig: WARNING: socket1: flashed 5c:cf:7f:01:02:03\n"


@pytest.mark.skipif(logs.JournalHandler is None, reason="systemd-python not installed")
def test_logs_to_journald_with_fields(clean_logging, monkeypatch, tmp_path):
    journal_socket = tmp_path / "journal.socket"
    journal_socket.touch()
    monkeypatch.setattr(logs, "JOURNAL_SOCKET", str(journal_socket))
    monkeypatch.setattr(logs, "_stderr_isatty", lambda: False)
    monkeypatch.setenv("INVOCATION_ID", "0123456789abcdef")
    logs.setup_logging()
    (handler,) = [h for h in logging.getLogger().handlers if getattr(h, "_flashjig", False)]
    assert isinstance(handler, logs.JournalHandler)

    sent = []
    monkeypatch.setattr(logs.journal, "send", lambda msg, **fields: sent.append((msg, fields)))
    log_flashed()
    ((message, fields),) = sent
    assert message == "socket1: flashed 5c:cf:7f:01:02:03"
    # Only journal fields: not the record's other attributes (msg, args, levelname, ...).
    assert all(re.fullmatch(r"[A-Z][A-Z0-9_]*", name) for name in fields), fields
    assert fields["SYSLOG_IDENTIFIER"] == "flashjig"
    assert fields["PRIORITY"] == "4"
    assert fields["SOCKET"] == "socket1"
    assert fields["MAC"] == "5c:cf:7f:01:02:03"
    assert fields["RESULT"] == "ok"


def test_logs_without_journald_stay_on_stderr(clean_logging, monkeypatch, tmp_path):
    monkeypatch.setattr(logs, "JOURNAL_SOCKET", str(tmp_path / "missing"))
    monkeypatch.setattr(logs, "_stderr_isatty", lambda: False)
    monkeypatch.setenv("INVOCATION_ID", "0123456789abcdef")
    logs.setup_logging()
    (handler,) = [h for h in logging.getLogger().handlers if getattr(h, "_flashjig", False)]
    assert type(handler) is logging.StreamHandler


# --- install.sh --------------------------------------------------------------------------

needs_systemd_tools = pytest.mark.skipif(
    shutil.which("systemd-sysusers") is None or shutil.which("systemctl") is None,
    reason="systemd-sysusers/systemctl not installed",
)


def install(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(INSTALL), *args], capture_output=True, text=True)


def members(group_file: Path, group: str) -> list[str]:
    for line in group_file.read_text().splitlines():
        name, _, _, users = line.split(":")
        if name == group:
            return users.split(",") if users else []
    raise AssertionError(f"no group {group} in {group_file}")


@needs_systemd_tools
def test_install_into_root(tmp_path):
    result = install("--root", str(tmp_path), "--no-venv")
    assert result.returncode == 0, result.stderr

    system = tmp_path / "etc" / "systemd" / "system"
    assert (system / "flashjig.service").read_text() == UNIT.read_text()
    link = system / "multi-user.target.wants" / "flashjig.service"
    assert link.is_symlink()
    assert os.readlink(link) == "/etc/systemd/system/flashjig.service"
    assert not (tmp_path / "opt").exists()

    (user,) = [
        line.split(":")
        for line in (tmp_path / "etc" / "passwd").read_text().splitlines()
        if line.startswith("flashjig:")
    ]
    assert user[5] == "/var/lib/flashjig"
    group = tmp_path / "etc" / "group"
    assert members(group, "gpio") == ["flashjig"]
    assert members(group, "dialout") == ["flashjig"]

    config = tmp_path / "etc" / "flashjig" / "flashjig.yaml"
    assert config.read_text() == (ROOT / "config" / "flashjig.yaml").read_text()
    rules = ROOT / "systemd" / "99-flashjig.rules"
    assert (tmp_path / "etc" / "udev" / "rules.d" / rules.name).exists() == rules.exists()

    # Again, over an operator's edited config: everything stays, nothing doubles.
    config.write_text("# edited on the jig\n")
    passwd = (tmp_path / "etc" / "passwd").read_text()
    result = install("--root", str(tmp_path), "--no-venv")
    assert result.returncode == 0, result.stderr
    assert config.read_text() == "# edited on the jig\n"
    assert (tmp_path / "etc" / "passwd").read_text() == passwd
    assert members(group, "gpio") == ["flashjig"]
    assert link.is_symlink()


def test_install_usage():
    result = install("--help")
    assert result.returncode == 0
    assert result.stdout.startswith("Usage: systemd/install.sh [--root DIR] [--no-venv]")
    result = install("--frobnicate")
    assert result.returncode == 2
    assert result.stderr == "install.sh: unknown argument: --frobnicate (see --help)\n"
    result = install("--root", "/nonexistent/flashjig-root", "--no-venv")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "no such directory" in result.stderr


def test_install_script_is_executable():
    assert INSTALL.stat().st_mode & stat.S_IXUSR
