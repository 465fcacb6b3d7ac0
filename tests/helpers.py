"""Helpers several test files share: waiting for a condition, the flashjig command, a
`flashjig run --simulate` process, a seated socket, one flash through the pipeline, journal
rows, and esptool's CLI against `flashjig sim`."""

import contextlib
import dataclasses
import hashlib
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import weakref
from pathlib import Path

import pytest
import yaml

from flashjig.config import load_config
from flashjig.emulator.chips import CHIPS
from flashjig.emulator.firmware import build_firmware
from flashjig.errors import ControlError
from flashjig.flashing.images import load_images
from flashjig.flashing.pipeline import FlashJob, flash
from flashjig.flashing.result import FlashResult, Outcome, Reason
from flashjig.hardware.socket_lines import SocketLines
from flashjig.station.control import request
from flashjig.station.status import SocketState

# -- waiting --------------------------------------------------------------------------------


def wait_for(condition, *, timeout: float = 30.0, what: str = "condition", interval: float = 0.05):
    """Poll ``condition`` until it is true and return what it returned; AssertionError
    naming ``what`` after ``timeout`` seconds. A condition may raise to give up early."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


# -- the command line -----------------------------------------------------------------------


def flashjig(*args, timeout=120, **kwargs):
    """Run the flashjig command in a fresh interpreter, as a user would, and capture it."""
    return subprocess.run(
        [sys.executable, "-m", "flashjig", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )


class DaemonProcess:
    """A `flashjig run --simulate` process on a config and a state directory, and the
    commands that drive it: ``ctl`` and ``status`` as a user runs them, ``ask`` straight
    through the control socket. Its stderr goes to ``log`` (appended to across restarts)."""

    def __init__(self, config: Path, state: Path, *extra: str, env=None, log=None) -> None:
        self.config, self.state = Path(config), Path(state)
        self.extra = extra
        self.env = {**os.environ, **(env or {})}
        self.sock = self.state / "control.sock"
        self.common = ["--config", str(self.config), "--state-dir", str(self.state)]
        self.log = Path(log) if log else self.state.parent / f"{self.state.name}-daemon.log"
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self, timeout: float = 20.0) -> None:
        """Start the process (again, after ``stop``) and wait for its control socket."""
        with open(self.log, "ab") as log:  # the child keeps its own copy
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "flashjig", "run", "--simulate", *self.extra, *self.common],
                stdout=subprocess.DEVNULL,
                stderr=log,
                env=self.env,
            )

        def started() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"station exited with {self.proc.returncode} on start: {self.stderr}"
                )
            return self.answers()

        try:
            wait_for(started, timeout=timeout, what="the station's control socket")
        except AssertionError:
            self.close()
            raise

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def stderr(self) -> str:
        """Everything the process (and any earlier one of this launcher) wrote to stderr."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def answers(self) -> bool:
        try:
            request(self.sock, {"cmd": "status"}, timeout=2)
        except (ControlError, OSError):
            return False
        return True

    def ask(self, cmd: str, *, timeout: float = 10.0, **fields) -> dict:
        """One request through the control socket. A station that stops answering is
        asked (SIGUSR1) for every thread's stack, which lands in ``log``."""
        try:
            return request(self.sock, {"cmd": cmd, **fields}, timeout=timeout)
        except TimeoutError:
            self.proc.send_signal(signal.SIGUSR1)
            time.sleep(1)
            raise AssertionError(f"no answer to {cmd}; thread stacks in {self.log}") from None

    def sockets(self) -> dict[str, dict]:
        """Each socket's status, by name, through the control socket."""
        return {s["name"]: s for s in self.ask("status")["status"]["sockets"]}

    def ctl(self, *args: str) -> subprocess.CompletedProcess:
        """`flashjig ctl ARGS` against this station; it must succeed."""
        run = flashjig("ctl", *args, *self.common)
        assert run.returncode == 0, run.stderr
        return run

    def status(self) -> dict:
        """`flashjig status --json` against this station."""
        run = flashjig("status", "--json", *self.common)
        assert run.returncode == 0, run.stderr
        return json.loads(run.stdout)

    def socket_state(self, name: str) -> dict:
        return next(s for s in self.status()["sockets"] if s["name"] == name)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Send ``sig`` and return the exit code (negative: killed by a signal)."""
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=timeout)

    def close(self) -> None:
        if self.running:
            self.proc.kill()
            self.proc.wait()


# -- the station in-process -----------------------------------------------------------------


def state_of(station, name: str) -> SocketState:
    return station.sockets[name].status.state


def flash_sockets(station, hardware, names):
    """Seat modules in ``names``, press the button and wait until each has a result."""
    for name in names:
        hardware.insert(name)
    wait_for(
        lambda: all(state_of(station, n) is SocketState.INSERTED for n in names),
        timeout=10,
        what="modules seated",
    )
    hardware.press()
    wait_for(
        lambda: all(state_of(station, n) in (SocketState.OK, SocketState.FAILED) for n in names),
        timeout=60,
        what="flashing to finish",
    )


def other_station(config, station_id, port, directory, **mqtt):
    """``config``'s station under another id, its copy in ``directory``, reporting to the
    broker on ``port``: a second station for the same broker."""
    path = directory / f"{station_id}.yaml"
    path.write_text(config.path.read_text().replace("id: bench-1", f"id: {station_id}"))
    return mqtt_config(path, port, **mqtt)


def mqtt_config(path, port, **mqtt):
    """Write the config at ``path`` again with an mqtt section."""
    data = yaml.safe_load(path.read_text())
    data["mqtt"] = {"host": "127.0.0.1", "port": port, **mqtt}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_config(path)


# Socket lines kept (power on) after their job, per hardware and socket, until the hardware goes.
_held = weakref.WeakKeyDictionary()


@contextlib.contextmanager
def seated(config, hardware, socket, *, keep_power=False):
    """The socket's strapping lines, and its power switch on if it has one, as the station
    holds them while a module is seated.

    keep_power leaves the power on after the block, as a station does while the module stays
    seated: for tests that look at the running module afterwards or flash it again."""
    held = _held.setdefault(hardware, {})
    lines = held.get(socket)
    if lines is None:
        lines = SocketLines.on(hardware, config.socket(socket))
        if keep_power:
            held[socket] = lines
    if lines.power is not None:
        lines.power.on()
    try:
        yield lines.straps
    finally:
        if socket not in held:
            lines.close()


# -- one flash through the pipeline ---------------------------------------------------------


def run_job(config, hardware, socket="socket1", **job_args):
    """One attempt of the profile on ``socket``: (result, the progress it reported)."""
    events = []
    # Power kept on: the tests look at the running module afterwards.
    with seated(config, hardware, socket, keep_power=True) as lines:
        job = job_for(config, hardware, socket, lines, on_progress=events.append, **job_args)
        return flash(job), events


def flash_profile(config, hardware, socket="socket1", profile=None, **job):
    """One attempt of ``profile`` (the config's by default) on ``socket``: its result."""
    profile = profile or config.profile
    with seated(config, hardware, socket, keep_power=True) as lines:
        return flash(job_for(config, hardware, socket, lines, profile=profile, **job))


def job_for(
    config,
    hardware,
    socket,
    straps,
    *,
    profile=None,
    images=None,
    station=None,
    state_dir=None,
    **options,
):
    """The station's job for ``socket`` (FlashJob.for_socket) with ``profile``, the
    config's by default, and its images (loaded anew unless given)."""
    profile = profile or config.profile
    return FlashJob.for_socket(
        config.socket(socket),
        port=hardware.port(socket),
        straps=straps,
        profile=profile,
        images=images or load_images(profile),
        station=station or config.station.id,
        state_dir=state_dir,
        **options,
    )


def with_profile(config, **changes):
    """The config with its active profile changed."""
    profile = dataclasses.replace(config.profile, **changes)
    return dataclasses.replace(config, profiles={**config.profiles, profile.name: profile})


def old_content(module, seed=99):
    """Fill a module's flash with other firmware; what it now holds."""
    old = build_firmware(0x100000, seed=seed)
    module.flash.erase_chip()
    module.flash.program(0, old[: module.flash.size])
    return module.flash.read(0, module.flash.size)


def build_path(tmp_path: Path, size=0x80000, **kwargs) -> Path:
    """A firmware file of ``size`` bytes in tmp_path."""
    path = tmp_path / f"fw-{size:x}.bin"
    path.write_bytes(build_firmware(size, **kwargs))
    return path


# -- journal rows ---------------------------------------------------------------------------

IMAGES = [{"offset": 0, "file": "/srv/fw/app.bin", "sha256": "ab" * 32, "size": 4096}]


def ok_result(socket: str = "s1", **fields) -> FlashResult:
    values = dict(
        mac="5c:cf:7f:01:02:03",
        chip="ESP8266EX",
        flash_id="1640ef",
        flash_size="4MB",
        images=IMAGES,
        bytes=4096,
        baud=460800,
        duration_s=7.25,
    )
    values.update(fields)
    return FlashResult(socket=socket, outcome=Outcome.OK, profile="demo", **values)


def failed_result(socket: str = "s1", reason: Reason = Reason.NO_SYNC) -> FlashResult:
    return FlashResult(
        socket=socket, outcome=Outcome.FAILED, reason=reason, detail="no answer", duration_s=2.5
    )


def record(journal, result: FlashResult, *, label: bool = False, **start):
    """Start and finish one attempt in ``journal`` (``label``: an ok one's label queued, as
    a station that prints does); its row."""
    attempt = journal.start_attempt(
        socket=result.socket, profile="demo", images=IMAGES, baud=460800, **start
    )
    return journal.finish_attempt(attempt, result, label=label)


# -- esptool's CLI against `flashjig sim` ---------------------------------------------------

SIM_START_TIMEOUT = 10
ESPTOOL_TIMEOUT = 60
MIB = 1 << 20


def expected_mac(name: str, chip: str = "esp8266") -> str:
    mac = CHIPS[chip].oui + hashlib.sha256(name.encode()).digest()[:3]
    return ":".join(f"{b:02x}" for b in mac)


def start_sim(*args: str):
    """Run ``flashjig sim``; yield {name: device} once it says ``ready``."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "flashjig", "sim", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    devices: dict[str, str] = {}
    try:
        while True:
            try:
                line = lines.get(timeout=SIM_START_TIMEOUT)
            except queue.Empty:
                pytest.fail(f"flashjig sim {' '.join(args)} not ready after {SIM_START_TIMEOUT} s")
            if line is None:
                proc.wait(timeout=5)
                pytest.fail(
                    f"flashjig sim exited with {proc.returncode} before ready: {proc.stderr.read()}"
                )
            if line == "ready":
                break
            name, device = line.split()
            devices[name] = device
        yield devices
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        proc.stderr.close()


def run_esptool(device: str, *args: str, chip: str = "esp8266") -> subprocess.CompletedProcess:
    """The unchanged esptool CLI against a module already in download mode."""
    command = [
        sys.executable,
        "-m",
        "esptool",
        "--chip",
        chip,
        "--port",
        device,
        "--before",
        "no-reset",
        "--after",
        "no-reset",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=ESPTOOL_TIMEOUT)


def output(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr


def ok(result: subprocess.CompletedProcess) -> str:
    text = output(result)
    assert result.returncode == 0, f"esptool {result.args[11:]} failed:\n{text}"
    return text


def read_flash(
    device: str, tmp_path, address: int, size: int, *options: str, chip: str = "esp8266"
) -> bytes:
    out = tmp_path / f"read-{address:x}-{size:x}.bin"
    ok(run_esptool(device, *options, "read-flash", hex(address), hex(size), str(out), chip=chip))
    data = out.read_bytes()
    assert len(data) == size
    return data


def write_file(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def flashing_socket1(daemon):
    """A simulated daemon (line rate) with modules in socket1 and socket2, socket1 flashing:
    what a drain or an upgrade meets."""
    daemon.ctl("insert", "socket1")
    daemon.ctl("insert", "socket2")
    wait_for(lambda: daemon.sockets()["socket2"]["state"] == "inserted", what="seated")
    daemon.ctl("flash", "socket1")
    wait_for(lambda: daemon.sockets()["socket1"]["state"] == "flashing", what="flashing")
    return daemon


@dataclasses.dataclass(frozen=True)
class ChildDone:
    code: int  # its exit code (99: it raised, said in stderr as "escaped: ...")
    stderr: str
    pid: int


def in_a_child_as_nobody(run) -> ChildDone:
    """``run()`` (returning an exit code) in a forked child that, as root, becomes nobody
    first: root ignores file permissions, and a new process is no way out (the venv's
    interpreter lies under /root, which nobody may not enter). What it writes to stderr
    comes back; an exception escaping it is said there as "escaped: TYPE: message"."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        code = 99
        sys.stderr = os.fdopen(write, "w")  # pytest holds the child's copy of sys.stderr
        try:
            os.close(read)
            if os.geteuid() == 0:
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
            code = run()
        except BaseException as e:  # noqa: BLE001 - what the tests look for
            print(f"escaped: {type(e).__name__}: {e}", file=sys.stderr)
        finally:
            sys.stderr.flush()
            os._exit(code)
    os.close(write)
    with os.fdopen(read) as stream:
        stderr = stream.read()
    _, status = os.waitpid(pid, 0)
    return ChildDone(os.waitstatus_to_exitcode(status), stderr, pid)


def on_native_usb(socket: dict) -> None:
    """A socket's entry in a config file made a native-USB socket (a C3 or S3 on its own
    USB-Serial-JTAG port): no strap, detect or power lines."""
    for key in ("boot", "en", "detect", "power", "power_active_low"):
        socket.pop(key, None)
    socket["native_usb"] = True
