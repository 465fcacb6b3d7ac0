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
