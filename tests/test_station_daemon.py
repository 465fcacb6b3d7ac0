"""`flashjig run` as systemd runs it: a real process driven by `flashjig ctl`, `status` and
`history`, signals (SIGTERM, SIGKILL, SIGHUP) and the journal across a kill; and a start
that stops before any pin is touched."""

import json
import os
import shutil
import signal
import socket
import time
from pathlib import Path

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory
from helpers import flashjig, wait_for

from flashjig.errors import ControlError
from flashjig.hardware.pi import PiHardware
from flashjig.simulation.hardware import SimulatedHardware
from flashjig.station.control import request
from flashjig.station.daemon import Daemon
from flashjig.station.journal import JOURNAL_FILE, Journal


@pytest.mark.slow
def test_insert_press_status_and_history(start_daemon):
    st = start_daemon()
    assert st.socket_state("socket1")["state"] == "empty"
    mac = json.loads(st.ctl("insert", "socket1").stdout)["mac"]
    wait_for(lambda: st.socket_state("socket1")["state"] == "inserted", what="inserted")
    st.ctl("press")
    wait_for(lambda: st.socket_state("socket1")["state"] == "ok", what="ok")
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


@pytest.mark.slow
def test_sigterm_mid_flash_cancels_cleanly_and_exits_0(start_daemon):
    st = start_daemon("--line-rate")
    st.ctl("insert", "socket1")
    wait_for(lambda: st.socket_state("socket1")["state"] == "inserted")
    st.ctl("press")
    wait_for(lambda: st.socket_state("socket1")["stage"] == "writing", what="writing")
    started = time.monotonic()
    assert st.stop() == 0
    assert time.monotonic() - started < 10
    with Journal(st.state / JOURNAL_FILE, readonly=True) as journal:
        (row,) = journal.attempts()
    assert row.result == "cancelled"
    assert not (st.state / "control.sock").exists()


@pytest.mark.slow
def test_kill_mid_flash_leaves_an_interrupted_row_after_restart(start_daemon):
    st = start_daemon("--line-rate")
    mac = json.loads(st.ctl("insert", "socket2").stdout)["mac"]
    wait_for(lambda: st.socket_state("socket2")["state"] == "inserted")
    st.ctl("press")
    wait_for(lambda: st.socket_state("socket2")["stage"] == "writing", what="writing")
    st.stop(signal.SIGKILL)
    with Journal(st.state / JOURNAL_FILE, readonly=True) as journal:
        assert [r.result for r in journal.attempts()] == ["started"]
        # Known before writing began, on the row before the kill: it traces to its module.
        assert journal.attempts()[0].mac == mac
    again = start_daemon()
    history = json.loads(flashjig("history", "--json", *again.common).stdout)
    assert [r["result"] for r in history] == ["interrupted"]
    assert history[0]["socket"] == "socket2" and history[0]["finished_at"]


@pytest.mark.slow
def test_sighup_applies_a_good_config_and_refuses_a_bad_one(start_daemon, station_config):
    st = start_daemon()
    text = station_config.path.read_text()
    station_config.path.write_text(text.replace("trigger: button", "trigger: both"))
    st.proc.send_signal(signal.SIGHUP)
    wait_for(lambda: st.status()["trigger"] == "both", what="reloaded")
    station_config.path.write_text(text.replace("trigger: button", "trigger: sometimes"))
    st.proc.send_signal(signal.SIGHUP)
    # The refusal first, then the station after it: a status read before the reload ran
    # would show the old config whatever the reload did.
    wait_for(lambda: "reload refused" in st.stderr, timeout=20, what="the reload refused")
    assert st.status()["trigger"] == "both"
    assert st.proc.poll() is None
    st.stop()


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


def test_station_refuses_to_start_without_room_for_backups(station_config, tmp_path, monkeypatch):
    text = station_config.path.read_text().replace(
        "verify: true", "verify: true\n    backup: before_write"
    )
    station_config.path.write_text(text)
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=10 << 20))
    daemon = Daemon(station_config.path, tmp_path / "state", hardware=SimulatedHardware)
    assert daemon.run() == 1
    assert daemon.hardware is None  # stopped before any pin was made


@pytest.mark.slow
def test_a_reload_the_loader_did_not_foresee_is_refused_during_a_flash(
    start_daemon, station_config, firmware_1m
):
    """A timing the loader chokes on, or an image cut short, while a module is being
    written: the reload is refused with its reason, the flash finishes, the daemon runs."""
    st = start_daemon("--line-rate")
    st.ctl("insert", "socket1")
    wait_for(lambda: st.socket_state("socket1")["state"] == "inserted", what="inserted")
    st.ctl("press")
    wait_for(lambda: st.socket_state("socket1")["stage"] == "writing", what="writing")
    text = station_config.path.read_text()
    cut = station_config.path.parent / "cut.bin"
    cut.write_bytes(firmware_1m.read_bytes()[:0x6000])  # inside its first segment
    for bad, words in (
        (text.replace("hold_time: 3.0", "hold_time: .inf"), "finite"),
        (text.replace(str(firmware_1m), str(cut)), "not a valid ESP8266 boot image"),
    ):
        station_config.path.write_text(bad)
        run = flashjig("ctl", "reload", *st.common)
        assert run.returncode == 1
        (line,) = run.stderr.strip().splitlines()
        assert line.startswith("flashjig ctl reload: reload refused: ") and words in line
        assert st.running
    station_config.path.write_text(text)
    wait_for(lambda: st.socket_state("socket1")["state"] == "ok", timeout=60, what="ok")


def test_bad_requests_on_the_control_socket_are_told_so(start_daemon):
    st = start_daemon()
    for fields, words in (
        ({"cmd": "press", "hold": "abc"}, "bad request: hold must be seconds"),
        ({"cmd": "insert", "socket": ["socket1"]}, "bad request: socket must be"),
        ({"cmd": "insert", "socket": "socket1", "fault": 7}, "bad request: fault must be"),
    ):
        with pytest.raises(ControlError, match=words):
            request(st.sock, fields)
    deep = b'{"cmd": "status", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n"
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(st.sock))
        s.sendall(deep[:4000] + b"\n")  # a request line is 4 KiB at most
        answer = s.recv(4096)
    assert b"bad request" in answer and b"internal error" not in answer
    assert st.running


@pytest.mark.parametrize("state_fault", ["corrupt journal", "state dir is a file"])
def test_a_journal_it_cannot_open_stops_the_start_in_one_line(
    station_config, tmp_path, state_fault
):
    state = tmp_path / "state"
    if state_fault == "corrupt journal":
        state.mkdir()
        (state / JOURNAL_FILE).write_bytes(b"this is no SQLite database" * 200)
    else:
        state.write_text("a file where the state directory should be")
    run = flashjig(
        "run", "--simulate", "--config", str(station_config.path), "--state-dir", str(state)
    )
    assert run.returncode == 1, run.stderr
    (line,) = run.stderr.strip().splitlines()
    assert "not starting: journal" in line and str(state) in line


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")
def test_a_password_file_the_service_user_cannot_read_is_refused_at_load(station_config):
    """Checked when the config is loaded, as the user loading it (the service's)."""
    import tempfile

    from flashjig.config import load_config
    from flashjig.errors import ConfigError

    where = Path(tempfile.mkdtemp(prefix="flashjig-secret-"))
    try:
        os.chmod(where, 0o755)
        secret = where / "mqtt-password"
        secret.write_text("hunter2\n")
        os.chmod(secret, 0o600)  # root's only
        config = where / "flashjig.yaml"
        text = station_config.path.read_text() + (
            f"mqtt: {{host: 127.0.0.1, username: jig, password_file: {secret}}}\n"
        )
        config.write_text(text)
        os.chmod(config, 0o644)
        shutil.copy(station_config.profile.images[0].path, where / "demo.bin")
        config.write_text(
            text.replace(str(station_config.profile.images[0].path), str(where / "demo.bin"))
        )
        assert load_config(config).mqtt.password_file == secret  # root reads it
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read)
            message = b"loaded"
            try:
                os.setgid(65534)
                os.setuid(65534)
                load_config(config)
            except ConfigError as e:
                message = str(e).encode()
            except BaseException as e:  # noqa: BLE001 - what the test looks for
                message = f"escaped {type(e).__name__}: {e}".encode()
            os.write(write, message)
            os._exit(0)
        os.close(write)
        with os.fdopen(read, "rb") as stream:
            message = stream.read().decode()
        os.waitpid(pid, 0)
        assert "mqtt.password_file: cannot read" in message and "service user" in message
    finally:
        shutil.rmtree(where)


def test_a_reporter_that_cannot_be_made_refuses_the_reload_and_the_old_one_runs_on(
    station_config, tmp_path
):
    """The page and the broker client are made before the reload changes anything: one
    that cannot be made (before: a password file that was not UTF-8) refuses the reload,
    and the running page keeps serving. Before, the old reporter was stopped first and the
    exception ended the daemon (by SIGHUP) or left it without a page."""
    import threading
    import urllib.request

    from flashjig.cli.run import reporters

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "web.yaml"
    config.write_text(station_config.path.read_text() + f"web: {{listen: '127.0.0.1:{port}'}}\n")
    made = []

    def reporter(*args):
        if made:
            raise UnicodeDecodeError("utf-8", b"\xe9", 0, 1, "invalid continuation byte")
        made.append(reporters(*args))
        return made[0]

    def answers() -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    seen = {}

    def operator() -> None:  # the daemon takes signals, so it runs on the main thread
        try:
            wait_for(answers, what="the status page")
            seen["refused"] = daemon.reload()
            seen["kept"] = daemon.reporter is made[0] and answers()
        finally:
            daemon._stop.set()

    daemon = Daemon(config, tmp_path / "state", hardware=SimulatedHardware, reporter=reporter)
    thread = threading.Thread(target=operator)
    thread.start()
    assert daemon.run() == 0
    thread.join()
    assert seen["refused"].startswith("UnicodeDecodeError: "), seen
    assert seen["kept"]
