"""The ``load`` group (issue 24): what a busy workshop network and a long-lived journal do
to ``flashjig run``, the real daemon (mock pins, five line-rate modules in sim processes,
the status page listening beyond loopback with a password, as the unit's file limit
allows: LimitNOFILE=1024).

- ``load_flash_plain_s``: five modules flashed (``flashjig ctl flash`` to all ok), nothing
  else going on; ``load_idle_ratio``: the same with 1,000 idle TCP connections held open
  to the page (each reopened as soon as the page closes it); ``load_pages_ratio``: the same
  with 200 clients following ``/events``; ``load_fds_*``: the daemon's descriptors before,
  during and a while after the idle connections.
- ``report_500k_s``: ``/api/report`` with no ``since`` on a journal of 500,000 attempts
  (70 days at one module every 12 s), two requests at once, the slower;
  ``rss_report_500k_mb``: the daemon's peak resident memory through them;
  ``loop_stall_max_s``: the longest the main loop went without its watchdog ping beyond
  its interval, read from the pings it sends to a notify socket of ours.
"""

import base64
import contextlib
import os
import random
import resource
import select
import socket
import sqlite3
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import lib
import yaml

from flashjig.station.control import ControlError, request
from flashjig.station.journal import JOURNAL_FILE, Journal
from flashjig.station.paths import control_socket

PASSWORD = "bench-secret"
UNIT_NOFILE = 1024  # systemd/flashjig.service: LimitNOFILE
WATCHDOG_USEC = 400_000  # the daemon pings every 0.2 s
IDLE_CONNECTIONS = 1000
PAGES = 200
JOURNAL_ROWS = 500_000


def run(emit, fresh_dir, image: Path, config_for) -> None:
    _raise_own_file_limit()
    quiet: dict[str, float] = {}
    plain = _flash(fresh_dir("load-plain"), image, config_for, fds=quiet)
    emit("load_flash_plain_s", plain)
    emit("load_daemon_cpu_plain_s", quiet["cpu"])
    fds: dict[str, float] = {}
    idle = _flash(fresh_dir("load-idle"), image, config_for, pressure=_IdleConnections, fds=fds)
    emit("load_flash_idle_s", idle)
    emit("load_idle_ratio", idle / plain)
    emit("load_daemon_cpu_idle_s", fds["cpu"])
    for moment in ("before", "during", "after"):
        emit(f"load_fds_{moment}", fds[moment])
    busy: dict[str, float] = {}
    pages = _flash(fresh_dir("load-pages"), image, config_for, pressure=_Pages, fds=busy)
    emit("load_flash_pages_s", pages)
    emit("load_pages_ratio", pages / plain)
    emit("load_daemon_cpu_pages_s", busy["cpu"])
    report_s, rss_mb, stall_s = _big_report(fresh_dir("load-journal"), image, config_for)
    emit("report_500k_s", report_s)
    emit("rss_report_500k_mb", rss_mb)
    emit("loop_stall_max_s", stall_s)


def _raise_own_file_limit() -> None:
    """The bench holds a thousand sockets itself; the daemon gets the unit's limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _with_page(config: Path, state: Path) -> int:
    """The config with the page beyond loopback (0.0.0.0, a password); its port."""
    port = _free_port()
    secret = state / "web-password"
    secret.write_text(PASSWORD + "\n")
    data = yaml.safe_load(config.read_text())
    data["web"] = {"listen": f"0.0.0.0:{port}", "password_file": str(secret)}
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    return port


def _auth() -> str:
    return "Basic " + base64.b64encode(f"flashjig:{PASSWORD}".encode()).decode()


class _Daemon:
    """``flashjig run`` as a child under the unit's file limit, sending its watchdog pings
    to a notify socket of ours; ready once its control socket answers."""

    def __init__(self, config: Path, state: Path, env: dict[str, str]) -> None:
        self.state = state
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(state / "notify.sock"))
        self.pings: list[float] = []
        self._listening = True
        self._listener = threading.Thread(target=self._listen, daemon=True)
        self._listener.start()
        command = [lib.PYTHON, "-m", "flashjig", "run", "--config", str(config)]
        self.process = subprocess.Popen(
            [*command, "--state-dir", str(state)],
            env={
                **os.environ,
                **env,
                "NOTIFY_SOCKET": str(state / "notify.sock"),
                "WATCHDOG_USEC": str(WATCHDOG_USEC),
            },
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_unit_limits,
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                request(control_socket(state), {"cmd": "status"}, timeout=5)
                break
            except ControlError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.close()
                    raise RuntimeError("flashjig run did not start") from None
                time.sleep(0.1)

    @property
    def pid(self) -> int:
        return self.process.pid

    def fds(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def _listen(self) -> None:
        while self._listening:
            ready, _, _ = select.select([self.notify], [], [], 0.5)
            if ready and b"WATCHDOG=1" in self.notify.recv(4096):
                self.pings.append(time.monotonic())

    def stall(self, since: float) -> float:
        """The longest gap between pings after ``since``, beyond the ping interval."""
        pings = [t for t in self.pings if t >= since]
        gaps = [b - a for a, b in zip(pings, pings[1:], strict=False)]
        interval = WATCHDOG_USEC / 2 / 1e6
        return max(0.0, max(gaps, default=0.0) - interval)

    def flash_all(self) -> float:
        """``flashjig ctl flash``, then until every socket is ok: seconds."""
        started = time.monotonic()
        request(control_socket(self.state), {"cmd": "flash"})
        deadline = started + 300
        while time.monotonic() < deadline:
            status = request(control_socket(self.state), {"cmd": "status"})["status"]
            states = [s["state"] for s in status["sockets"]]
            if all(s in ("ok", "failed") for s in states):
                if states != ["ok"] * len(states):
                    raise RuntimeError(f"flash failed: {status['sockets']}")
                return time.monotonic() - started
            time.sleep(0.05)
        raise RuntimeError("flash did not finish in 300 s")

    def wait_for_page(self, port: int) -> None:
        """The page starts after the control socket: until it answers."""
        deadline = time.monotonic() + 30
        while True:
            ask = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/status", headers={"Authorization": _auth()}
            )
            try:
                with urllib.request.urlopen(ask, timeout=5):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the status page did not come up") from None
                time.sleep(0.1)

    def close(self) -> None:
        lib.stop(self.process, timeout=30)
        self._listening = False
        self._listener.join()
        self.notify.close()


def _unit_limits() -> None:
    lib._die_with_parent()
    resource.setrlimit(resource.RLIMIT_NOFILE, (UNIT_NOFILE, UNIT_NOFILE))


def _flash(state: Path, image: Path, config_for, *, pressure=None, fds=None) -> float:
    """Five line-rate modules flashed by the daemon, with ``pressure`` on its page; into
    ``fds`` its descriptors and the CPU it used during the flash."""
    with lib.sims(state, 5) as sims:
        config = config_for(state, image, {i: sim.devices[0] for i, sim in enumerate(sims)})
        port = _with_page(config, state)
        daemon = _Daemon(config, state, {"GPIOZERO_PIN_FACTORY": "mock"})
        try:
            daemon.wait_for_page(port)
            if pressure is None:
                cpu0 = lib.cpu_s(daemon.pid)
                seconds = daemon.flash_all()
                if fds is not None:
                    fds.update(cpu=lib.cpu_s(daemon.pid) - cpu0)
                return seconds
            before = daemon.fds()
            with pressure(port) as load:
                load.ready()
                cpu0 = lib.cpu_s(daemon.pid)
                seconds = daemon.flash_all()
                during = daemon.fds()
                if fds is not None:
                    fds.update(cpu=lib.cpu_s(daemon.pid) - cpu0)
            time.sleep(2)  # the page notices the clients gone
            if fds is not None:
                fds.update(before=before, during=during, after=daemon.fds())
            return seconds
        finally:
            daemon.close()


class _IdleConnections:
    """IDLE_CONNECTIONS TCP connections to the page that never send a byte, each opened
    again as soon as the page closes it: a silent client that does not give up."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.open: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._hold, daemon=True)

    def __enter__(self) -> "_IdleConnections":
        for _ in range(IDLE_CONNECTIONS):
            self.open.append(self._connect())
        self._thread.start()
        return self

    def ready(self) -> None:
        pass

    def _connect(self) -> socket.socket:
        connection = socket.socket()
        connection.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            connection.connect(("127.0.0.1", self.port))
        return connection

    def _hold(self) -> None:
        while not self._stop.is_set():
            readable, _, _ = select.select(self.open, [], [], 0.2)
            for connection in readable:  # readable with nothing to read: closed by the page
                with contextlib.suppress(OSError):
                    if connection.recv(1):
                        continue
                connection.close()
                self.open[self.open.index(connection)] = self._connect()

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        for connection in self.open:
            connection.close()


class _Pages:
    """PAGES clients following /events (the password given), reading what comes."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.streams: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)

    def __enter__(self) -> "_Pages":
        head = (
            f"GET /events HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            f"Authorization: {_auth()}\r\nAccept: text/event-stream\r\n\r\n"
        ).encode()
        for _ in range(PAGES):
            stream = socket.create_connection(("127.0.0.1", self.port), timeout=10)
            stream.sendall(head)
            self.streams.append(stream)
        self._thread.start()
        return self

    def ready(self) -> None:
        time.sleep(1)  # every page has had its first status

    def _read(self) -> None:
        live = list(self.streams)
        while live and not self._stop.is_set():
            readable, _, _ = select.select(live, [], [], 0.2)
            for stream in readable:
                with contextlib.suppress(OSError):
                    if stream.recv(65536):
                        continue
                live.remove(stream)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        for stream in self.streams:
            stream.close()


def _big_journal(state: Path, rows: int) -> None:
    """A journal of ``rows`` finished attempts: 70 days at one module every 12 s, five
    sockets, about 4 % failures with their reasons, every module its own MAC."""
    state.mkdir(parents=True, exist_ok=True)
    Journal(state / JOURNAL_FILE, station="bench-1").close()  # the schema, as the daemon has it
    rng = random.Random(24)
    start = time.time() - rows * 12
    reasons = ["no sync", "verify failed", "timeout", "flash too small"]

    def stamp(t: float) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(t))

    def attempts():
        for i in range(rows):
            t = start + i * 12
            ok = rng.random() > 0.04
            yield (
                "bench-1", f"socket{i % 5 + 1}", "demo", stamp(t), stamp(t + 9),
                "ok" if ok else "failed", "" if ok else rng.choice(reasons),
                f"5c:cf:7f:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}",
                1, 1048576, 921600, 9.0,
            )  # fmt: skip

    with contextlib.closing(sqlite3.connect(state / JOURNAL_FILE)) as db, db:
        db.executemany(
            "INSERT INTO attempts (station, socket, profile, started_at, finished_at, result,"
            " reason, mac, published, bytes, baud, duration_s)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            attempts(),
        )


def _big_report(state: Path, image: Path, config_for) -> tuple[float, float, float]:
    """Two /api/report requests at once on a 500k-row journal: the slower's seconds, the
    daemon's peak memory, the longest main-loop stall meanwhile."""
    _big_journal(state, JOURNAL_ROWS)
    config = config_for(state, image, {})
    port = _with_page(config, state)
    daemon = _Daemon(config, state, {"GPIOZERO_PIN_FACTORY": "mock"})
    try:
        daemon.wait_for_page(port)
        time.sleep(1)  # past start-up
        since = time.monotonic()
        took: list[float] = []

        def report() -> None:
            started = time.monotonic()
            ask = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/report", headers={"Authorization": _auth()}
            )
            with urllib.request.urlopen(ask, timeout=300) as response:
                response.read()
            took.append(time.monotonic() - started)

        asking = [threading.Thread(target=report) for _ in range(2)]
        for thread in asking:
            thread.start()
        for thread in asking:
            thread.join()
        time.sleep(1)  # a ping after the last request
        if len(took) != 2:
            raise RuntimeError("a report request failed")
        return max(took), lib.memory_mb(daemon.pid, "VmHWM"), daemon.stall(since)
    finally:
        daemon.close()
