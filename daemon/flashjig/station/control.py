"""The station's local control socket: one JSON request per line, one JSON answer.

`flashjig status` and `flashjig ctl` talk to the daemon through it. Only root and
members of the service's group get in: the socket file is 0660 in a 0750 directory, and
each connection's peer credentials (SO_PEERCRED) are checked as well, so a loose umask or
directory mode does not open it up.
"""

import contextlib
import errno
import json
import logging
import os
import socket
import socketserver
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flashjig.errors import CommandError, ControlError

log = logging.getLogger(__name__)

MAX_REQUEST = 4096
IDLE_S = 10.0
Handler = Callable[[dict[str, Any]], dict[str, Any]]


# Linux's SO_PEERGROUPS (socket(7), since 4.13; not named by Python 3.11's socket module):
# the peer's supplementary groups, from the kernel. /proc/PID/status would say the same,
# but the unit's ProtectProc=invisible hides other users' processes from the daemon.
SO_PEERGROUPS = getattr(socket, "SO_PEERGROUPS", 59)
_GID = struct.Struct("I")


def _peer_groups(conn: socket.socket) -> set[int]:
    size = 64 * _GID.size
    while True:
        try:
            raw = conn.getsockopt(socket.SOL_SOCKET, SO_PEERGROUPS, size)
        except OSError as e:
            if e.errno == errno.ERANGE and size < 65536 * _GID.size:  # more groups than room
                size *= 16
                continue
            return set()
        return {gid for (gid,) in _GID.iter_unpack(raw[: len(raw) - len(raw) % _GID.size])}


def peer_allowed(conn: socket.socket) -> bool:
    """Root, our own user, or anyone in our group (primary or supplementary)."""
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _, uid, gid = struct.unpack("3i", creds)
    if uid in (0, os.geteuid()) or gid == os.getegid():
        return True
    return os.getegid() in _peer_groups(conn)


class _Server(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True
    handler: Handler  # set by ControlServer once the socket is bound


class _RequestHandler(socketserver.StreamRequestHandler):
    server: _Server
    # A client that connects and says nothing gives its thread back after this long
    # (socketserver sets it on the connection): idle connections cannot pile up threads.
    timeout = IDLE_S

    def handle(self) -> None:
        if not peer_allowed(self.connection):
            self._answer({"ok": False, "error": "permission denied"})
            return
        try:
            line = self.rfile.readline(MAX_REQUEST + 1)
        except OSError:  # timed out, or the client went away: nobody to answer
            return
        try:
            if len(line) > MAX_REQUEST:
                raise ValueError("request too long")
            request = json.loads(line)
            if not isinstance(request, dict) or not isinstance(request.get("cmd"), str):
                raise ValueError("expected a JSON object with a 'cmd'")
        except RecursionError:
            self._answer({"ok": False, "error": "bad request: JSON nested too deep"})
            return
        except ValueError as e:
            self._answer({"ok": False, "error": f"bad request: {e}"})
            return
        try:
            answer = self.server.handler(request)
        except (ControlError, CommandError) as e:  # a bad request, a command refused
            answer = {"ok": False, "error": str(e)}
        except Exception:
            log.exception("control request %r failed", request.get("cmd"))
            answer = {"ok": False, "error": "internal error (see the station's log)"}
        self._answer(answer)

    def _answer(self, answer: dict[str, Any]) -> None:
        with contextlib.suppress(OSError):
            self.wfile.write(json.dumps(answer).encode() + b"\n")


class ControlServer:
    def __init__(self, path: Path, handler: Handler) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o750)
        if path.is_socket():
            if _answers(path):
                raise ControlError(f"another station is running on {path}")
            path.unlink()
        old_umask = os.umask(0o117)  # the socket is born 0660, never briefly open
        try:
            self._server = _Server(str(path), _RequestHandler)
        finally:
            os.umask(old_umask)
        self._server.handler = handler
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="control", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def _answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        try:
            s.connect(str(path))
        except OSError:
            return False
    return True


def request(path: Path, payload: dict[str, Any], *, timeout: float = 30.0) -> dict[str, Any]:
    """Send one request to the station at ``path``; ControlError with one line if it
    cannot be asked or refuses."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        try:
            s.connect(str(path))
        except FileNotFoundError:
            raise ControlError(f"no station running (no control socket at {path})") from None
        except PermissionError:
            raise ControlError(
                f"not allowed to use {path}: run as root or as a member of the station's group"
            ) from None
        except ConnectionRefusedError:
            raise ControlError(f"no station answering at {path}") from None
        s.sendall(json.dumps(payload).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    if not data:
        raise ControlError(f"the station at {path} closed the connection")
    answer = json.loads(data)
    if not answer.get("ok", False):
        raise ControlError(answer.get("error", "refused"))
    return answer
