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


@pytest.mark.slow
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


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")
def test_a_member_of_the_group_gets_in_with_other_processes_hidden(monkeypatch):
    """An operator added to the service's group (a supplementary group, their own user and
    primary group another) is let in, with /proc of other users hidden as the unit's
    ProtectProc=invisible hides it: membership comes from the kernel, not /proc."""
    import pathlib
    import shutil
    import tempfile

    from flashjig.station import control

    real_read_text = pathlib.Path.read_text

    def hidden(path, *args, **kwargs):
        if str(path).startswith("/proc/") and str(path) != f"/proc/{os.getpid()}/status":
            raise FileNotFoundError(path)  # what ProtectProc=invisible shows of other users
        return real_read_text(path, *args, **kwargs)

    monkeypatch.setattr(pathlib.Path, "read_text", hidden)
    where = pathlib.Path(tempfile.mkdtemp(prefix="flashjig-control-"))  # pytest's are 0700
    os.chmod(where, 0o750)  # as RuntimeDirectoryMode: the group may enter
    server = control.ControlServer(where / "control.sock", lambda request: {"ok": True})
    server.start()
    try:
        results = {}
        for who, groups in (("member", [os.getegid()]), ("outsider", [])):
            pid = os.fork()
            if pid == 0:
                code = 3
                try:
                    os.setgroups(groups)
                    os.setgid(65534)
                    os.setuid(65534)
                    answer = control.request(where / "control.sock", {"cmd": "status"})
                    code = 0 if answer == {"ok": True} else 2
                except (control.ControlError, PermissionError):
                    code = 1
                finally:
                    os._exit(code)
            _, status = os.waitpid(pid, 0)
            results[who] = os.waitstatus_to_exitcode(status)
        assert results == {"member": 0, "outsider": 1}
    finally:
        server.close()
        shutil.rmtree(where)
