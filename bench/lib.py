"""What the benchmarks share: emulated modules in processes of their own, the esptool CLI,
a flashjig station in a child process, /proc readings and the physical limit.

Every emulated module runs in a ``flashjig sim --line-rate`` process, never in the process
being measured, so flashjig's CPU and memory are its own; the sim's are read from /proc
and reported apart. Every child is started with PR_SET_PDEATHSIG, so a benchmark that is
killed takes its children with it.
"""

import contextlib
import ctypes
import json
import os
import resource
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

from esptool.loader import StubFlasher
from esptool.targets.esp8266 import ESP8266ROM

from flashjig.config.sizes import BYTES as SIZES
from flashjig.emulator.flashchip import SECTOR, FlashChip

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PYTHON = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")
ROM_BAUD = 115200
BITS_PER_BYTE = 10
MB = 1 << 20
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM when the benchmark process goes away."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def spawn(args: list[str], **kwargs) -> subprocess.Popen:
    return subprocess.Popen(args, preexec_fn=_die_with_parent, **kwargs)


def stop(process: subprocess.Popen, timeout: float = 5.0) -> None:
    """SIGTERM, then SIGKILL if it does not exit; always reaped."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- /proc ---------------------------------------------------------------------------------


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process, all its threads."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def memory_mb(pid: int, field: str = "VmRSS") -> float:
    """VmRSS (resident now) or VmHWM (peak resident) of a live process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def children_cpu_s() -> float:
    """CPU of every waited-for child so far (RUSAGE_CHILDREN)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine() -> dict[str, str]:
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    python = ".".join(str(n) for n in sys.version_info[:3])
    return {"nproc": str(os.cpu_count()), "cpu": model, "python": python}


# -- emulated modules ----------------------------------------------------------------------


class Sim:
    """One ``flashjig sim --line-rate`` process serving ``modules`` emulated modules whose
    flash lives in files under ``state_dir`` (so it can be preloaded and checked)."""

    def __init__(
        self,
        state_dir: Path,
        *,
        modules: int = 1,
        flash_size: str = "1MB",
        claimed_size: str | None = None,
        preload=None,
        chip: str = "esp8266",
        autobaud_max: int | None = None,
    ) -> None:
        self.state_dir = state_dir
        self.size = SIZES[flash_size]
        (state_dir / "sim").mkdir(parents=True, exist_ok=True)
        if preload is not None:
            for index in range(1, modules + 1):
                self.flash_file(index).write_bytes(_filled(preload, self.size))
        args = [PYTHON, "-m", "flashjig", "sim", "--modules", str(modules), "--line-rate"]
        args += ["--flash-size", flash_size, "--state-dir", str(state_dir)]
        if claimed_size is not None:  # a counterfeit: its id claims more than it holds
            args += ["--claimed-size", claimed_size]
        args += ["--chip", chip]
        if autobaud_max is not None:  # a ROM that syncs only up to this rate
            args += ["--autobaud-max", str(autobaud_max)]
        self.process = spawn(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.devices = []
        try:
            for line in _lines(self.process, deadline=time.monotonic() + 20):
                if line == "ready":
                    break
                self.devices.append(line.split()[1])
        except BaseException:
            stop(self.process)
            raise

    @property
    def pid(self) -> int:
        return self.process.pid

    def flash_file(self, index: int) -> Path:
        return self.state_dir / "sim" / f"module{index}.flash"

    def holds(self, data: bytes, index: int, offset: int = 0) -> bool:
        """After close: does module ``index``'s flash hold ``data`` at ``offset``?"""
        with open(self.flash_file(index), "rb") as f:
            f.seek(offset)
            return f.read(len(data)) == data

    def close(self) -> None:
        stop(self.process)  # SIGTERM: the sim flushes its flash files and exits


def _filled(data: bytes, size: int) -> bytes:
    return data + b"\xff" * (size - len(data))


def _lines(process: subprocess.Popen, deadline: float):
    """Lines a child prints, until its stdout closes or the deadline passes (read from the
    file descriptor: a buffered reader would hide lines from select)."""
    fd = process.stdout.fileno()
    pending = b""
    while True:
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            yield line.decode().strip()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"{process.args[:4]} said nothing in time")
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            chunk = os.read(fd, 4096)
            if not chunk:
                raise RuntimeError(f"{process.args[:4]} exited ({process.wait()})")
            pending += chunk


@contextlib.contextmanager
def sims(state_dir: Path, count: int, **kwargs):
    """``count`` sim processes with one module each: independent modules, as on a jig."""
    started = []
    try:
        for index in range(count):
            started.append(Sim(state_dir / f"sim{index + 1}", **kwargs))
        yield started
    finally:
        for sim in started:
            sim.close()


# -- the esptool CLI -----------------------------------------------------------------------


@dataclass
class CliRun:
    seconds: float  # from the start of the first process to the exit of the last
    cpu_s: float  # all esptool processes together (RUSAGE_CHILDREN)


def esptool(
    devices: list[str],
    image: Path | list[tuple[int, Path]],
    *extra: str,
    baud: int = 921600,
    chip: str = "esp8266",
    after: str = "no-reset",
) -> CliRun:
    """``python -m esptool ... write-flash 0x0 IMAGE`` (or each offset and image) on each
    device at once (output to files: a full pipe would stall a process while another is
    waited for)."""
    written = [str(part) for offset, path in _at_offsets(image) for part in (hex(offset), path)]
    cpu0 = children_cpu_s()
    with contextlib.ExitStack() as stack:
        logs = [stack.enter_context(tempfile.TemporaryFile()) for _ in devices]
        started = time.monotonic()
        processes = [
            spawn(
                [PYTHON, "-m", "esptool", "--chip", chip, "--port", device]
                + ["--before", "no-reset", "--after", after, "--baud", str(baud)]
                + ["write-flash", *extra, *written],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            for device, log in zip(devices, logs, strict=True)
        ]
        try:
            for process in processes:
                process.wait(timeout=300)
        finally:
            for process in processes:
                stop(process)
        seconds = time.monotonic() - started
        for process, log in zip(processes, logs, strict=True):
            if process.returncode != 0:
                log.seek(0)
                tail = log.read().decode(errors="replace")[-2000:]
                raise RuntimeError(f"esptool failed ({process.returncode}):\n{tail}")
    return CliRun(seconds, children_cpu_s() - cpu0)


# -- a flashjig station in a child process -------------------------------------------------


def station(
    devices: list[str],
    image: Path | list[tuple[int, Path]],
    *,
    baud: int = 921600,
    without: tuple[str, ...] = (),
    web: bool = False,
    chip: str = "esp8266",
) -> dict:
    """Run bench/station.py: a Station on mock pins wired to ``devices``, one button press,
    until every socket is done, ``without`` some speed-ups; with ``web``, its status page
    open in a headless chromium meanwhile. Returns what it measured (see station.py), and
    ``process_cpu_s``: the child's CPU from start to exit."""
    spec = json.dumps(
        {
            "devices": devices,
            "images": [(o, str(p)) for o, p in _at_offsets(image)],
            "chip": chip,
            "baud": baud,
            "without": list(without),
            "web": web,
        }
    )
    cpu0 = children_cpu_s()
    child = spawn([PYTHON, str(BENCH / "station.py"), spec], stdout=subprocess.PIPE, text=True)
    try:
        out, _ = child.communicate(timeout=600)
    finally:
        stop(child)
    if child.returncode != 0:
        raise RuntimeError(f"station run failed ({child.returncode})")
    report = json.loads(out.strip().splitlines()[-1])
    report["process_cpu_s"] = children_cpu_s() - cpu0  # start-up and image loading too
    failed = {n: r for n, r in report["sockets"].items() if r["result"] != "ok"}
    if failed:
        raise RuntimeError(f"station run failed: {failed}")
    return report


# -- connecting: until the flasher stub runs at the write rate (issue 28) ----------------


class _NoStraps:
    """A standalone sim's module waits in its ROM loader: nothing to strap."""

    reenumerates = False

    def enter_bootloader(self, attempt: int = 1) -> None:
        pass

    def run_firmware(self) -> None:
        pass

    def hold_in_reset(self) -> None:
        pass

    def why_silent(self) -> str:
        return "a sim that does not answer"

    def close(self) -> None:
        pass


def connect_flashjig(device: str, chip: str, images: list[tuple[int, Path]], baud: int) -> dict:
    """The station's start (flashing.pipeline.start, the fast way): seconds until the stub
    runs at ``baud``, and the rates it went at."""
    from flashjig.config import ImageSpec, Profile
    from flashjig.config.model import Chip
    from flashjig.flashing.esptool_internals import close_port
    from flashjig.flashing.images import load_images
    from flashjig.flashing.pipeline import FlashJob, start
    from flashjig.flashing.rates import FastConnect
    from flashjig.flashing.result import FlashResult

    specs = tuple(ImageSpec(offset, path, None, Chip(chip)) for offset, path in images)
    profile = Profile(name="bench", images=specs, baud=baud)
    job = FlashJob(
        "socket1", device, _NoStraps(), profile, load_images(profile), chip=Chip(chip),
        fast=FastConnect(),
    )  # fmt: skip
    result = FlashResult("socket1", baud=baud)
    started = time.monotonic()
    esp, _ = start(job, result)
    seconds = time.monotonic() - started
    close_port(esp)
    return {
        "seconds": seconds,
        "sync_baud": result.sync_baud,
        "stub_baud": result.stub_baud,
        "fallback": str(result.rate_fallback),
    }


def connect_esptool(device: str, chip: str, baud: int) -> float:
    """What the esptool CLI does before it writes (esptool/__init__.py: sync at 115200,
    the stub, then change_baud), through its own API: seconds until the stub runs at
    ``baud``."""
    from esptool.cmds import detect_chip

    started = time.monotonic()
    esp = detect_chip(device, ROM_BAUD, connect_mode="no-reset", connect_attempts=1)
    esp = esp.run_stub()
    esp.change_baud(baud)
    seconds = time.monotonic() - started
    esp._port.close()
    return seconds


def _at_offsets(image: Path | list[tuple[int, Path]]) -> list[tuple[int, Path]]:
    """One image at 0x0, or a build's images at their offsets."""
    return [(0, image)] if isinstance(image, Path) else image


# -- the physical limit --------------------------------------------------------------------


@dataclass
class Limit:
    """The least time the work can take on the modelled line and chip."""

    stub_s: float  # the stub's text and data at the rate it goes up at
    wire_s: float  # the compressed image at the working baud
    flash_s: float  # erase (64 KiB blocks where aligned, else sectors) and page programs
    md5_s: float  # the stub hashing the written region

    @property
    def seconds(self) -> float:
        return self.stub_s + max(self.wire_s, self.flash_s) + self.md5_s


def limit(data: bytes, *, baud: int = 921600, stub_baud: int = ROM_BAUD) -> Limit:
    """For one image at offset 0, with the stub esptool 5.6 uploads by default, at
    ``stub_baud``: 115200 as every tool sends it, or the rate an ESP8266 can be synced at
    (flashing.rates.FAST_SYNC_BAUD)."""
    stub = StubFlasher(ESP8266ROM)
    chip = FlashChip(SIZES["4MB"])
    return Limit(
        stub_s=(len(stub.text) + len(stub.data)) * BITS_PER_BYTE / stub_baud,
        wire_s=len(zlib.compress(data, 9)) * BITS_PER_BYTE / baud,
        flash_s=chip.erase_time(-(-len(data) // SECTOR)) + chip.program_time(len(data)),
        md5_s=chip.md5_time(len(data)),
    )


def median(values: list[float]) -> float:
    return statistics.median(values)
