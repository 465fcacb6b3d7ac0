"""systemd integration: readiness, status and watchdog notifications (sd_notify).

Messages go through systemd-python's ``systemd.daemon.notify`` (libsystemd's sd_notify) when
it is installed, else as the same datagram sent by hand: sd_notify's wire protocol is one
AF_UNIX datagram of newline-separated ``KEY=VALUE`` lines to ``$NOTIFY_SOCKET`` (a path, or
an abstract socket name written with a leading '@'). Without NOTIFY_SOCKET (not started by
systemd, or not Type=notify) every call does nothing.
"""

import logging
import os
import socket
import time
from collections.abc import Callable, Mapping

try:
    import systemd.daemon as _sd_daemon
except ImportError:  # systemd-python is optional: fall back to the plain datagram
    _sd_daemon = None

log = logging.getLogger(__name__)


def _one_line(text: str) -> str:
    """STATUS= ends at the first newline; keep the whole text on that line."""
    return " ".join(text.split())


class Notifier:
    """sd_notify for the daemon: READY=1 once config, pins, serial ports and journal are good;
    STATUS= one-line summary; WATCHDOG=1 from the main loop only while it is healthy;
    STOPPING=1; RELOADING=1."""

    def __init__(
        self,
        environ: Mapping[str, str] = os.environ,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._socket = environ.get("NOTIFY_SOCKET") or None
        self.enabled: bool = self._socket is not None
        self.watchdog_interval: float | None = _watchdog_interval(environ)
        # libsystemd reads NOTIFY_SOCKET from the real environment: use it only when that is
        # the socket we were given, so both paths always talk to the same socket.
        self._use_libsystemd = (
            _sd_daemon is not None and os.environ.get("NOTIFY_SOCKET") == self._socket
        )
        self._clock = clock
        self._last_status: str | None = None
        self._last_watchdog: float | None = None
        self._warned = False

    def ready(self, status: str = "") -> None:
        """Tell systemd start-up (or a reload) is complete."""
        lines = ["READY=1"]
        if status:
            status = _one_line(status)
            lines.append(f"STATUS={status}")
        if self._send(lines) and status:
            self._last_status = status

    def status(self, text: str) -> None:
        """Set the one-line status `systemctl status` shows; repeats are not sent."""
        text = _one_line(text)
        if text != self._last_status and self._send([f"STATUS={text}"]):
            self._last_status = text

    def watchdog(self) -> None:
        """Ping the watchdog; call it every main-loop tick while healthy, it rate-limits."""
        if self.watchdog_interval is None:
            return
        now = self._clock()
        if self._last_watchdog is not None and now - self._last_watchdog < self.watchdog_interval:
            return
        if self._send(["WATCHDOG=1"]):
            self._last_watchdog = now

    def reloading(self) -> None:
        """Config reload started; send ready() when it is done."""
        # MONOTONIC_USEC lets systemd tell this reload from an earlier one (sd_notify(3)).
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self._send(["RELOADING=1", f"MONOTONIC_USEC={usec}"])

    def stopping(self) -> None:
        """Shutdown started."""
        self._send(["STOPPING=1"])

    def _send(self, lines: list[str]) -> bool:
        """Send one notification; True when it went out. Failures are logged, never raised:
        a lost notification must not take the daemon down mid-flash."""
        if self._socket is None:
            return False
        message = "\n".join(lines)
        try:
            if self._use_libsystemd:
                sent = _sd_daemon.notify(message)
            else:
                sent = _send_datagram(self._socket, message)
        except OSError as exc:
            sent = False
            reason = str(exc)
        else:
            reason = "not sent"
        if not sent and not self._warned:
            # Once: if the socket is gone it stays gone, and the log would fill up.
            log.warning("sd_notify to %s failed: %s", self._socket, reason)
            self._warned = True
        return sent


def _watchdog_interval(environ: Mapping[str, str]) -> float | None:
    """Half of WATCHDOG_USEC in seconds (sd_watchdog_enabled(3)), None without a watchdog
    for this process."""
    pid = environ.get("WATCHDOG_PID")
    if pid and pid != str(os.getpid()):
        return None  # the watchdog belongs to another process (e.g. our parent)
    try:
        usec = int(environ.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    return usec / 2 / 1_000_000


def _send_datagram(address: str, message: str) -> bool:
    """sd_notify without libsystemd."""
    if address.startswith("@"):
        target = "\0" + address[1:]  # Linux abstract namespace
    elif address.startswith("/"):
        target = address
    else:
        raise OSError(f"unsupported NOTIFY_SOCKET address {address!r}")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        sock.sendto(message.encode(), target)
    return True
