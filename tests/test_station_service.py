"""systemd notifications (sd_notify): the Notifier through systemd-python and through the
plain datagram, and `flashjig run` announcing READY, STATUS, WATCHDOG and STOPPING."""

import logging
import os
import re
import shutil
import socket
import tempfile
import uuid

import pytest
from helpers import wait_for

from flashjig.station import service
from flashjig.station.service import Notifier


@pytest.fixture(params=["libsystemd", "datagram"])
def backend(request, monkeypatch):
    """Run each Notifier test through systemd-python and through the plain datagram."""
    if request.param == "libsystemd":
        if service._sd_daemon is None:
            # ./jig installs it wherever it may install Debian's libsystemd-dev: as root
            # (CI) its absence is a failure, not a reason to test less.
            if os.geteuid() == 0:
                pytest.fail("systemd-python is not installed (./jig test installs it as root)")
            pytest.skip("systemd-python not installed (run ./jig test as root once)")
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


# -- the daemon's notifications -------------------------------------------------------------


@pytest.mark.slow
def test_notify_socket_gets_ready_status_and_watchdog(start_daemon, tmp_path):
    path = tmp_path / "notify.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(str(path))
    listener.settimeout(10)
    try:
        st = start_daemon(env={"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "1000000"})
        messages = []

        def watchdog_seen() -> bool:
            messages.append(listener.recv(4096).decode())
            return any("WATCHDOG=1" in m for m in messages)

        wait_for(watchdog_seen, timeout=10, what="a watchdog ping", interval=0)
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
