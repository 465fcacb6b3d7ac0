"""The station's control socket: only root and the station's group may use it."""

import os
import socket

import pytest


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")
def test_control_socket_refuses_other_users(start_daemon):
    st = start_daemon()
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


def test_an_idle_connection_gives_its_thread_back(tmp_path, monkeypatch, capfd):
    """Connections that say nothing are closed after IDLE_S: they cannot pile up threads."""
    import threading
    import time

    from flashjig.station import control

    assert 0 < control._RequestHandler.timeout <= 30  # socketserver's default: wait for ever
    monkeypatch.setattr(control._RequestHandler, "timeout", 0.3)
    server = control.ControlServer(tmp_path / "control.sock", lambda request: {"ok": True})
    server.start()
    try:
        before = threading.active_count()
        idle = [socket.socket(socket.AF_UNIX) for _ in range(20)]
        for s in idle:
            s.connect(str(tmp_path / "control.sock"))
        time.sleep(0.1)
        assert threading.active_count() >= before + 20  # a thread each, while they wait
        time.sleep(0.6)
        for s in idle:
            s.settimeout(2)
            assert s.recv(1) == b""  # closed by the station
            s.close()
        assert threading.active_count() <= before + 1
        assert control.request(tmp_path / "control.sock", {"cmd": "status"}) == {"ok": True}
    finally:
        server.close()
    assert "Traceback" not in capfd.readouterr().err  # a timeout is no error
