"""`flashjig run` as systemd runs it: a real process, signals, the control socket, the
notify socket, and the journal across a kill."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory
from helpers import flashjig

from flashjig.hardware.pi import PiHardware
from flashjig.station.control import ControlError, request
from flashjig.station.daemon import Daemon
from flashjig.station.journal import JOURNAL_FILE, Journal


class Station:
    """A `flashjig run --simulate` process and the commands that drive it."""

    def __init__(self, config: Path, state: Path, *extra, env=None) -> None:
        self.state = state
        self.common = ["--config", str(config), "--state-dir", str(state)]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "flashjig", "run", "--simulate", *extra, *self.common],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        deadline = time.monotonic() + 20
        while not self._answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"station did not start: {self.proc.communicate()[1]}")
            time.sleep(0.05)

    def _answers(self) -> bool:
        try:
            request(self.state / "control.sock", {"cmd": "status"}, timeout=2)
        except (ControlError, OSError):
            return False
        return True

    def ctl(self, *args):
        run = flashjig("ctl", *args, *self.common)
        assert run.returncode == 0, run.stderr
        return run

    def status(self):
        run = flashjig("status", "--json", *self.common)
        assert run.returncode == 0, run.stderr
        return json.loads(run.stdout)

    def socket_state(self, name):
        return next(s for s in self.status()["sockets"] if s["name"] == name)

    def wait(self, predicate, timeout=30.0, what="condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}")

    def stop(self, sig=signal.SIGTERM, timeout=15):
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()


@pytest.fixture
def station(station_config, tmp_path):
    started = []

    def start(*extra, env=None):
        s = Station(station_config.path, tmp_path / "state", *extra, env=env)
        started.append(s)
        return s

    yield start
    for s in started:
        s.close()


def test_insert_press_status_and_history(station):
    st = station()
    assert st.socket_state("socket1")["state"] == "empty"
    mac = json.loads(st.ctl("insert", "socket1").stdout)["mac"]
    st.wait(lambda: st.socket_state("socket1")["state"] == "inserted", what="inserted")
    st.ctl("press")
    st.wait(lambda: st.socket_state("socket1")["state"] == "ok", what="ok")
    s1 = st.socket_state("socket1")
    assert s1["mac"] == mac and s1["last_result"] == "ok"
    status = st.status()
    assert status["today"]["ok"] == 1 and status["total"]["ok"] == 1
    view = flashjig("status", *st.common)
    assert view.returncode == 0 and "socket1" in view.stdout and mac in view.stdout
    assert st.stop() == 0
    history = flashjig("history", "--json", *st.common)
    (row,) = json.loads(history.stdout)
    assert row["mac"] == mac and row["result"] == "ok" and row["socket"] == "socket1"
    csv = flashjig("history", "--csv", "--since", "today", *st.common)
    assert csv.stdout.splitlines()[0].startswith("id,") and mac in csv.stdout


def test_ctl_refuses_unknown_socket_with_one_line(station):
    st = station()
    run = flashjig("ctl", "insert", "socket9", *st.common)
    assert run.returncode == 1
    assert run.stderr.strip().count("\n") == 0 and "unknown socket 'socket9'" in run.stderr


def test_sigterm_mid_flash_cancels_cleanly_and_exits_0(station):
    st = station("--line-rate")
    st.ctl("insert", "socket1")
    st.wait(lambda: st.socket_state("socket1")["state"] == "inserted")
    st.ctl("press")
    st.wait(lambda: st.socket_state("socket1")["stage"] == "writing", what="writing")
    started = time.monotonic()
    assert st.stop() == 0
    assert time.monotonic() - started < 10
    with Journal(st.state / JOURNAL_FILE, readonly=True) as journal:
        (row,) = journal.attempts()
    assert row.result == "cancelled"
    assert not (st.state / "control.sock").exists()


def test_kill_mid_flash_leaves_an_interrupted_row_after_restart(station):
    st = station("--line-rate")
    st.ctl("insert", "socket2")
    st.wait(lambda: st.socket_state("socket2")["state"] == "inserted")
    st.ctl("press")
    st.wait(lambda: st.socket_state("socket2")["stage"] == "writing", what="writing")
    st.stop(signal.SIGKILL)
    with Journal(st.state / JOURNAL_FILE, readonly=True) as journal:
        assert [r.result for r in journal.attempts()] == ["started"]
    again = station()
    history = json.loads(flashjig("history", "--json", *again.common).stdout)
    assert [r["result"] for r in history] == ["interrupted"]
    assert history[0]["socket"] == "socket2" and history[0]["finished_at"]


def test_notify_socket_gets_ready_status_and_watchdog(station, tmp_path):
    path = tmp_path / "notify.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(path))
    listener.settimeout(10)
    try:
        st = station(env={"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "1000000"})
        messages = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any("WATCHDOG=1" in m for m in messages):
            messages.append(listener.recv(4096).decode())
        ready = next(m for m in messages if "READY=1" in m)
        assert "STATUS=" in ready or any(m.startswith("STATUS=") for m in messages)
        assert any("WATCHDOG=1" in m for m in messages)
        assert messages.index(ready) < next(i for i, m in enumerate(messages) if "WATCHDOG=1" in m)
        st.stop()
        tail = []
        listener.settimeout(2)
        try:
            while True:
                tail.append(listener.recv(4096).decode())
        except TimeoutError:
            pass
        assert any("STOPPING=1" in m for m in tail)
    finally:
        listener.close()


def test_sighup_applies_a_good_config_and_refuses_a_bad_one(station, station_config):
    st = station()
    text = station_config.path.read_text()
    station_config.path.write_text(text.replace("trigger: button", "trigger: both"))
    st.proc.send_signal(signal.SIGHUP)
    st.wait(lambda: st.status()["trigger"] == "both", what="reloaded")
    station_config.path.write_text(text.replace("trigger: button", "trigger: sometimes"))
    st.proc.send_signal(signal.SIGHUP)
    time.sleep(1.0)
    assert st.status()["trigger"] == "both"
    assert st.proc.poll() is None
    st.stop()
    assert "reload refused" in st.proc.stderr.read()


def test_bad_config_stops_before_any_pin_is_touched(tmp_path, monkeypatch):
    bad = tmp_path / "bad.yaml"
    bad.write_text("sockets: []\nprofiles: {}\n")
    factory = MockFactory()
    monkeypatch.setattr(Device, "pin_factory", factory)
    daemon = Daemon(bad, tmp_path / "state", hardware=PiHardware)
    assert daemon.run() == 2
    assert factory.pins == {}
    assert not (tmp_path / "state").exists()
    run = flashjig("run", "--config", str(bad), "--state-dir", str(tmp_path / "s"))
    assert run.returncode == 2
    assert "bad.yaml" in run.stderr and len(run.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")
def test_control_socket_refuses_other_users(station):
    st = station()
    mode = (st.state / "control.sock").stat().st_mode & 0o777
    assert mode == 0o660
    os.chmod(st.state, 0o755)  # even with the directory open, the socket itself is closed
    pid = os.fork()
    if pid == 0:  # child: become nobody and try the socket
        code = 3
        try:
            os.setgid(65534)
            os.setuid(65534)
            with socket.socket(socket.AF_UNIX) as s:
                s.connect(str(st.state / "control.sock"))
            code = 0
        except PermissionError:
            code = 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 1, "nobody must not reach the control socket"
