"""flashjig's benchmarks (issue 7): ``.venv/bin/python bench/run.py [--only NAME,...]``.

Prints ``name=value`` lines. Groups (``--only``): overhead (also gives limit_ratio),
reflash, parallel, cpu, idle, scale, changes; all of them by default. Every module is
emulated with the line-rate model on, in a ``flashjig sim`` process of its own; see
bench/README.md for what each figure measures. The benchmark stops by itself and leaves
no process behind.
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import lib
import yaml

from flashjig.emulator.firmware import build_esp32_firmware, build_firmware
from flashjig.flashing.rates import FAST_SYNC_BAUD
from flashjig.station.control import ControlError, request
from flashjig.station.paths import control_socket

GROUPS = (
    *("overhead", "reflash", "parallel", "cpu", "idle", "scale", "changes", "modules", "web"),
    *("load", "connect", "esp32", "batch200", "labels"),
)
LABELS = 1000  # labels in the labels group's PDF: two busy days of a bench
BATCH = 200  # modules through the five sockets in the batch200 group
SLOW_ROMS_EVERY = 3  # of which every third auto-bauds only at 115200
# The chips the connect group starts, each on a fresh module over a UART.
CONNECT_CHIPS = ("esp8266", "esp32", "esp32c3")
ALIASES = {"limit": "overhead"}
SHIPPED_CONFIG = lib.ROOT / "config" / "flashjig.yaml"
# The modules people buy (issue 16): ESP-01S sold as 4 MB. kind -> (what the flash holds,
# what its id claims, what it holds before the run).
MODULES = {
    "blank": ("4MB", None, None),
    "other": ("4MB", None, "other"),
    "same": ("4MB", None, "image"),
    "counterfeit": ("1MB", "4MB", None),
    "counterfeit_same": ("1MB", "4MB", "image"),
}
MICROPYTHON_BYTES = 0xA0000  # 640 KiB: an ESP8266 MicroPython firmware's size


class Bench:
    def __init__(self, tmp: Path, repeat: int) -> None:
        self.tmp = tmp
        self.repeat = repeat
        self._images: dict[int, Path] = {}
        self._runs: dict[tuple[int, int, bool], list[dict]] = {}
        self._serial = 0

    def emit(self, name: str, value: float | str) -> None:
        text = f"{value:.3f}" if isinstance(value, float) else str(value)
        print(f"{name}={text}", flush=True)

    def fresh_dir(self, what: str) -> Path:
        self._serial += 1
        path = self.tmp / f"{self._serial:03d}-{what}"
        path.mkdir()
        return path

    def image(self, mib: int) -> Path:
        """A firmware-like image of ``mib`` MiB (valid ESP8266 header, code-like content)."""
        if mib not in self._images:
            path = self.tmp / f"firmware-{mib}m.bin"
            path.write_bytes(build_firmware(mib * lib.MB))
            self._images[mib] = path
        return self._images[mib]

    # -- runs ------------------------------------------------------------------------------

    def flashjig(
        self,
        sockets: int,
        mib: int = 1,
        *,
        preload: bool = False,
        without: tuple[str, ...] = (),
        web: bool = False,
    ) -> dict:
        """A station flashing ``sockets`` modules at once; the sims' CPU is added."""
        image = self.image(mib)
        data = image.read_bytes()
        with lib.sims(
            self.fresh_dir("flashjig"),
            sockets,
            flash_size=f"{mib}MB",
            preload=data if preload else None,
        ) as sims:
            cpu0 = [lib.cpu_s(sim.pid) for sim in sims]
            devices = [sim.devices[0] for sim in sims]
            report = lib.station(devices, image, without=without, web=web)
            report["sim_cpu_s"] = sum(
                lib.cpu_s(sim.pid) - c for sim, c in zip(sims, cpu0, strict=True)
            )
        _check_flash(sims, data)
        return report

    def flashjig_runs(self, sockets: int, mib: int = 1, *, preload: bool = False) -> list[dict]:
        """``repeat`` fresh runs, shared by the groups that need the same one."""
        runs = self._runs.setdefault((sockets, mib, preload), [])
        while len(runs) < self.repeat:
            runs.append(self.flashjig(sockets, mib, preload=preload))
        return runs

    def esptool(self, sockets: int, *extra: str, preload: bool = False) -> tuple[lib.CliRun, float]:
        """The esptool CLI on ``sockets`` modules at once; also the sims' CPU."""
        image = self.image(1)
        data = image.read_bytes()
        with lib.sims(
            self.fresh_dir("esptool"), sockets, preload=data if preload else None
        ) as sims:
            cpu0 = [lib.cpu_s(sim.pid) for sim in sims]
            run = lib.esptool([sim.devices[0] for sim in sims], image, *extra)
            sim_cpu = sum(lib.cpu_s(sim.pid) - c for sim, c in zip(sims, cpu0, strict=True))
        _check_flash(sims, data)
        return run, sim_cpu

    def on_module(self, kind: str, tool: str, *extra: str) -> float:
        """One run on a fresh module of ``kind`` (MODULES): the station's press-to-verified
        or the esptool CLI's process start to exit, in seconds."""
        flash_size, claimed, holds = MODULES[kind]
        image = self.tmp / "micropython-sized.bin"
        if not image.exists():
            image.write_bytes(build_firmware(MICROPYTHON_BYTES))
        data = image.read_bytes()
        preload = {None: None, "image": data, "other": build_firmware(0x100000, seed=77)}[holds]
        with lib.sims(
            self.fresh_dir(f"{tool}-{kind}"),
            1,
            flash_size=flash_size,
            claimed_size=claimed,
            preload=preload,
        ) as sims:
            devices = [sim.devices[0] for sim in sims]
            if tool == "flashjig":
                seconds = _slowest(lib.station(devices, image), "verified_s")
            else:
                seconds = lib.esptool(devices, image, *extra).seconds
        _check_flash(sims, data)
        return seconds

    def connected(self, chip: str, tool: str) -> dict:
        """One start on a fresh module of ``chip``: until its stub runs at 921600."""
        images = self.chip_images(chip)
        with lib.sims(self.fresh_dir(f"connect-{tool}-{chip}"), 1, chip=chip) as sims:
            device = sims[0].devices[0]
            if tool == "flashjig":
                return lib.connect_flashjig(device, chip, images, 921600)
            return {"seconds": lib.connect_esptool(device, chip, 921600)}

    def chip_images(self, chip: str) -> list[tuple[int, Path]]:
        """Images for ``chip``, as a build of it would be laid out."""
        if chip == "esp8266":
            return [(0, self.image(1))]
        folder = self.tmp / f"images-{chip}"
        if not folder.exists():
            folder.mkdir()
            for offset, data in build_esp32_firmware(chip, MICROPYTHON_BYTES).items():
                (folder / f"{offset:x}.bin").write_bytes(data)
        return [(int(p.stem, 16), p) for p in sorted(folder.iterdir())]

    # -- groups ----------------------------------------------------------------------------

    def on_chip(self, chip: str, tool: str) -> float:
        """One first flash of an ESP32-family build on a fresh blank 4 MB module over a
        UART: the station's press-to-verified or the esptool CLI's start to exit."""
        images = self.chip_images(chip)
        with lib.sims(self.fresh_dir(f"{tool}-{chip}"), 1, chip=chip, flash_size="4MB") as sims:
            devices = [sim.devices[0] for sim in sims]
            if tool == "flashjig":
                return _slowest(lib.station(devices, images, chip=chip), "verified_s")
            return lib.esptool(devices, images, chip=chip).seconds

    def usb_c3_config(self) -> Path:
        """The shipped config, socket1 an ESP32-C3 on its own USB port, the C3 build."""
        data = yaml.safe_load(SHIPPED_CONFIG.read_text())
        profile = data["profiles"][data["active_profile"]]
        images = self.chip_images("esp32c3")
        profile["images"] = {"esp32c3": [{"offset": o, "file": str(p)} for o, p in images]}
        profile.update(flash_mode="keep", flash_freq="keep", flash_size="keep")
        profile.pop("boot_check", None)
        for socket in data["sockets"]:
            socket["chip"] = "esp32c3"
        for key in ("boot", "en", "detect", "power", "power_active_low"):
            data["sockets"][0].pop(key, None)
        data["sockets"][0]["native_usb"] = True
        path = self.fresh_dir("usb-c3") / "flashjig.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    def on_usb_c3(self, tool: str) -> float:
        """A C3 on its own USB port (USB-Serial-JTAG), seated with its boot button held,
        the line-rate model on: the station's pipeline (its resets over USB; no rate to
        raise there) until verified, or the esptool CLI on its USB tty, start to exit.
        In this process: ``flashjig sim`` serves UART modules only."""
        from flashjig.config import load_config
        from flashjig.flashing.images import load_images
        from flashjig.flashing.pipeline import FlashJob, flash
        from flashjig.flashing.result import Stage
        from flashjig.hardware.socket_lines import SocketLines
        from flashjig.simulation.hardware import ModuleSpec, SimulatedHardware

        config = load_config(self.usb_c3_config())
        seated = {"socket1": ModuleSpec(boot_held=True)}
        with SimulatedHardware(config, modules=seated, line_rate=True) as hw:
            if tool == "esptool":
                port = hw.port("socket1")  # its by-path name, once the C3 has enumerated
                _wait(lambda: os.path.exists(port), timeout=5)
                # Left in its stub: esptool's soft reset back to the ROM loader (--after
                # no-reset) restarts the emulated chip's USB device while esptool still
                # holds the port.
                written = self.chip_images("esp32c3")
                run = lib.esptool([port], written, chip="esp32c3", after="no-reset-stub")
                return run.seconds
            socket = config.socket("socket1")
            lines = SocketLines.on(hw, socket)
            verified: list[float] = []
            try:
                job = FlashJob.for_socket(
                    socket,
                    port=hw.port("socket1"),
                    straps=lines.straps,
                    profile=config.profile,
                    images=load_images(config.profile),
                    station=config.station.id,
                    state_dir=None,
                    on_progress=lambda p: (
                        p.stage is Stage.BOOTING and verified.append(time.monotonic())
                    ),
                )
                started = time.monotonic()
                result = flash(job)
            finally:
                lines.close()
        if not result.ok or not verified:
            raise RuntimeError(f"the C3 on native USB was not flashed: {result.detail}")
        return verified[0] - started

    def esp32(self) -> None:
        """ESP32-family modules (issue 28): a 640 KiB app with its bootloader and partition
        table, first flash, the station against the esptool CLI on the same kind of module
        in the same run: an ESP32 and a C3 over a UART, a C3 on its own USB port."""
        for chip in ("esp32", "esp32c3"):
            station = lib.median([self.on_chip(chip, "flashjig") for _ in range(self.repeat)])
            cli = lib.median([self.on_chip(chip, "esptool") for _ in range(self.repeat)])
            self.emit(f"e32_{chip}_flashjig_s", station)
            self.emit(f"e32_{chip}_esptool_s", cli)
            self.emit(f"e32_{chip}_ratio", station / cli)
        station = lib.median([self.on_usb_c3("flashjig") for _ in range(self.repeat)])
        cli = lib.median([self.on_usb_c3("esptool") for _ in range(self.repeat)])
        self.emit("e32_esp32c3_usb_flashjig_s", station)
        self.emit("e32_esp32c3_usb_esptool_s", cli)
        self.emit("e32_esp32c3_usb_ratio", station / cli)

    def batch200(self) -> None:
        """200 modules through a simulated station's five sockets as a workshop feeds them,
        every third with a ROM that auto-bauds only at 115200 (issue 28): modules lost to
        the fast start (not flashed ok), and how the rest went. No line-rate model: what
        is counted here is outcomes, not time."""
        from flashjig.config import load_config
        from flashjig.simulation.hardware import ModuleSpec
        from flashjig.simulation.station import simulated_station
        from flashjig.station.status import SocketState

        state = self.fresh_dir("batch200")
        image = self.tmp / "batch-128k.bin"
        image.write_bytes(build_firmware(0x20000))
        config = load_config(_write_config(state, image, {}))
        names = [socket.name for socket in config.sockets]
        settled = (SocketState.OK, SocketState.FAILED)
        started = time.monotonic()
        with simulated_station(config, state) as (station, hw, journal):
            for first in range(0, BATCH, len(names)):
                for n, name in enumerate(names, start=first):
                    slow = n % SLOW_ROMS_EVERY == 0
                    hw.insert(name, ModuleSpec(autobaud_max=lib.ROM_BAUD) if slow else None)
                _wait(
                    lambda: all(
                        s.status.state is SocketState.INSERTED for s in station.sockets.values()
                    )
                )
                station.flash_all()
                _wait(lambda: all(s.status.state in settled for s in station.sockets.values()))
                for name in names:
                    hw.remove(name)
                _wait(
                    lambda: all(
                        s.status.state is SocketState.EMPTY for s in station.sockets.values()
                    )
                )
            rows = journal.attempts(limit=None)
        seconds = time.monotonic() - started
        firsts = [r for r in rows if r.retry == 0]
        self.emit("batch200_modules", len(firsts))
        self.emit("batch200_ok", sum(r.result == "ok" for r in rows))
        self.emit("batch200_lost", len(firsts) - sum(r.result == "ok" for r in rows))
        self.emit("batch200_retries", len(rows) - len(firsts))
        self.emit("batch200_synced_fast", sum(r.sync_baud > lib.ROM_BAUD for r in firsts))
        self.emit("batch200_sync_fallbacks", sum(r.rate_fallback == "sync" for r in firsts))
        self.emit("batch200_s", seconds)

    def connect(self) -> None:
        """Connect until the flasher stub runs at the write rate (issue 28): the station's
        start against esptool's (the CLI's path, through its API), on a fresh module of
        each chip."""
        from esptool.logger import log

        log.set_verbosity("silent")  # esptool's own lines, in this process
        for chip in CONNECT_CHIPS:
            runs = [self.connected(chip, "flashjig") for _ in range(self.repeat)]
            station = lib.median([r["seconds"] for r in runs])
            cli = lib.median(
                [self.connected(chip, "esptool")["seconds"] for _ in range(self.repeat)]
            )
            self.emit(f"connect_{chip}_flashjig_s", station)
            self.emit(f"connect_{chip}_esptool_s", cli)
            self.emit(f"connect_{chip}_ratio", station / cli)
            self.emit(f"connect_{chip}_sync_baud", runs[-1]["sync_baud"])
            self.emit(f"connect_{chip}_stub_baud", runs[-1]["stub_baud"])
            self.emit(f"connect_{chip}_fallbacks", sum(bool(r["fallback"]) for r in runs))

    def modules(self) -> None:
        """The 4 MB modules people flash: first flash and re-flash, the station against the
        esptool CLI on the same kind of module in the same run, and the line-rate limit."""
        for kind, (_, _, holds) in MODULES.items():
            station = lib.median([self.on_module(kind, "flashjig") for _ in range(self.repeat)])
            cli = lib.median([self.on_module(kind, "esptool") for _ in range(self.repeat)])
            self.emit(f"m4_{kind}_flashjig_s", station)
            self.emit(f"m4_{kind}_esptool_s", cli)
            self.emit(f"m4_{kind}_ratio", station / cli)
            if holds == "image":
                skip = lib.median(
                    [self.on_module(kind, "esptool", "--skip-flashed") for _ in range(self.repeat)]
                )
                self.emit(f"m4_{kind}_esptool_skip_s", skip)
                self.emit(f"m4_{kind}_vs_skip_ratio", station / skip)
            else:
                image = (self.tmp / "micropython-sized.bin").read_bytes()
                self.emit(f"m4_{kind}_limit_ratio", station / lib.limit(image).seconds)
                # Against the limit with the stub at the rate an ESP8266 is synced at (issue 28).
                fast = lib.limit(image, stub_baud=FAST_SYNC_BAUD).seconds
                self.emit(f"m4_{kind}_limit_fast_ratio", station / fast)
            if kind == "blank":
                oneshot = lib.median([self.oneshot() for _ in range(self.repeat)])
                self.emit("m4_oneshot_s", oneshot)
                self.emit("m4_oneshot_ratio", oneshot / cli)

    def oneshot(self) -> float:
        """``flashjig flash --simulate --line-rate`` on a blank 4 MB module, process start
        to exit (its module is emulated in its own process: the one-shot's whole cost)."""
        state = self.fresh_dir("oneshot")
        config = _write_config(state, self.tmp / "micropython-sized.bin", {})
        started = time.monotonic()
        subprocess.run(
            [lib.PYTHON, "-m", "flashjig", "flash", "--simulate", "--line-rate"]
            + ["--sim-flash-size", "4MB", "--socket", "socket1"]
            + ["--config", str(config), "--state-dir", str(state)],
            check=True,
            capture_output=True,
            timeout=300,
        )
        return time.monotonic() - started

    def overhead(self) -> None:
        runs = self.flashjig_runs(1)
        cli = [self.esptool(1)[0].seconds for _ in range(self.repeat)]
        flashjig_s = lib.median([_slowest(r, "verified_s") for r in runs])
        esptool_s = lib.median(cli)
        limit = lib.limit(self.image(1).read_bytes())
        self.emit("overhead_ratio", flashjig_s / esptool_s)
        self.emit("limit_ratio", flashjig_s / limit.seconds)
        self.emit("flashjig_s", flashjig_s)
        self.emit("flashjig_booted_s", lib.median([_slowest(r, "done_s") for r in runs]))
        self.emit("esptool_s", esptool_s)
        self.emit("limit_s", limit.seconds)
        self.emit("limit_stub_s", limit.stub_s)
        self.emit("limit_wire_s", limit.wire_s)
        self.emit("limit_flash_s", limit.flash_s)
        self.emit("limit_md5_s", limit.md5_s)

    def reflash(self) -> None:
        """Modules that already hold the image, flashed again."""
        reports = self.flashjig_runs(1, preload=True)
        for report in reports:
            result = report["sockets"]["socket1"]
            if result["bytes"] or not all(i["skipped"] for i in result["images"]):
                raise RuntimeError(f"the station rewrote an image it should skip: {result}")
        flashjig_s = lib.median([_slowest(r, "verified_s") for r in reports])
        write_s = lib.median([self.esptool(1, preload=True)[0].seconds for _ in range(self.repeat)])
        skip_s = lib.median(
            [self.esptool(1, "--skip-flashed", preload=True)[0].seconds for _ in range(self.repeat)]
        )
        self.emit("reflash_ratio", flashjig_s / write_s)
        self.emit("reflash_vs_skip_ratio", flashjig_s / skip_s)
        self.emit("flashjig_reflash_s", flashjig_s)
        self.emit("esptool_write_s", write_s)
        self.emit("esptool_skip_s", skip_s)

    def web(self) -> None:
        """Five modules with the status page open in a headless chromium (live over its
        event stream) against without: the page must not slow a flash."""
        plain = lib.median([_slowest(r, "done_s") for r in self.flashjig_runs(5)])
        runs = [self.flashjig(5, web=True) for _ in range(self.repeat)]
        watched = lib.median([_slowest(r, "done_s") for r in runs])
        self.emit("web_flash_5_s", watched)
        self.emit("web_flash_ratio", watched / plain)
        self.emit("web_cpu_s_per_module", lib.median([r["cpu_s"] for r in runs]) / 5)

    def labels(self) -> None:
        """A PDF of LABELS labels on A4 at 300 dpi, made as the status page makes it: by
        ``python -m flashjig.station.labelsheet`` in a process of its own; its time, and
        the most memory it held (the whole PDF made with Pillow's list of pages: 770 MB)."""
        import pickle
        import resource

        from flashjig.config import LabelLayout
        from flashjig.station.labels import Label

        units = [
            Label(n, f"lamp-{n:05d}", f"5c:cf:7f:00:{n >> 8:02x}:{n & 255:02x}", "jig-1",
                  "demo", "ESP8266EX", "2026-12-07")
            for n in range(LABELS)
        ]  # fmt: skip
        sent = pickle.dumps((units, LabelLayout()))
        times, peaks = [], []
        for _ in range(self.repeat):
            pdf = self.tmp / "labels.pdf"
            started = time.monotonic()
            with pdf.open("wb") as out:
                subprocess.run(
                    [sys.executable, "-m", "flashjig.station.labelsheet"],
                    input=sent,
                    stdout=out,
                    check=True,
                )
            times.append(time.monotonic() - started)
            assert pdf.read_bytes().startswith(b"%PDF")
            peaks.append(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
        self.emit(f"labels_pdf_{LABELS}_s", lib.median(times))
        # The largest child so far: run alone (--only labels), the label maker's.
        self.emit(f"labels_pdf_{LABELS}_peak_mb", max(peaks))

    def load(self) -> None:
        """The daemon under a busy network and a long-lived journal (bench/load.py)."""
        import load

        load.run(self.emit, self.fresh_dir, self.image(1), _write_config)

    def parallel(self) -> None:
        one = lib.median([_slowest(r, "verified_s") for r in self.flashjig_runs(1)])
        five = lib.median([_slowest(r, "verified_s") for r in self.flashjig_runs(5)])
        self.emit("parallel_efficiency", one / five)
        self.emit("parallel_1_s", one)
        self.emit("parallel_5_s", five)

    def cpu(self) -> None:
        """Five modules at once, each tool: CPU per module, emulators apart."""
        runs = self.flashjig_runs(5)
        flashjig = lib.median([r["cpu_s"] for r in runs]) / 5
        whole = lib.median([r["process_cpu_s"] for r in runs]) / 5
        cli = [self.esptool(5) for _ in range(self.repeat)]
        esptool = lib.median([run.cpu_s for run, _ in cli]) / 5
        self.emit("cpu_s_per_module_flashjig", flashjig)
        self.emit("cpu_s_per_module_esptool", esptool)
        self.emit("cpu_ratio", flashjig / esptool)
        self.emit("cpu_s_per_module_flashjig_with_startup", whole)
        self.emit("cpu_s_per_module_sim_flashjig", lib.median([r["sim_cpu_s"] for r in runs]) / 5)
        self.emit("cpu_s_per_module_sim_esptool", lib.median([s for _, s in cli]) / 5)
        self.emit("esptool_5_s", lib.median([run.seconds for run, _ in cli]))

    def idle(self, seconds: float) -> None:
        self._idle_daemon(seconds)
        self._flashing_daemon()

    def _idle_daemon(self, seconds: float) -> None:
        """``flashjig run --simulate``: the shipped 5-socket wiring, no module seated."""
        state = self.fresh_dir("idle")
        config = _write_config(state, self.image(1), {})
        with _daemon(config, state, "--simulate") as pid:
            time.sleep(1.0)  # past start-up
            cpu0, t0 = lib.cpu_s(pid), time.monotonic()
            time.sleep(seconds)
            used, elapsed = lib.cpu_s(pid) - cpu0, time.monotonic() - t0
            self.emit("idle_cpu_percent", 100.0 * used / elapsed)
            self.emit("idle_seconds", elapsed)
            self.emit("rss_idle_mb", lib.memory_mb(pid))

    def _flashing_daemon(self) -> None:
        """``flashjig run`` on mock pins (GPIOZERO_PIN_FACTORY=mock), its five serial ports
        emulated modules in sim processes, no detect switches (sockets always full):
        ``flashjig ctl flash``, then resident memory until all five are verified."""
        state = self.fresh_dir("flashing")
        image = self.image(1)
        with lib.sims(state, 5) as sims:
            devices = [sim.devices[0] for sim in sims]
            config = _write_config(state, image, dict(enumerate(devices)))
            with _daemon(config, state, env={"GPIOZERO_PIN_FACTORY": "mock"}) as pid:
                ready = lib.memory_mb(pid)
                request(control_socket(state), {"cmd": "flash"})
                peak = ready
                deadline = time.monotonic() + 300
                while time.monotonic() < deadline:
                    peak = max(peak, lib.memory_mb(pid))
                    status = request(control_socket(state), {"cmd": "status"})["status"]
                    states = [s["state"] for s in status["sockets"]]
                    if all(s in ("ok", "failed") for s in states):
                        break
                    time.sleep(0.2)
                if states != ["ok"] * 5:
                    raise RuntimeError(f"daemon flash failed: {status['sockets']}")
                hwm = lib.memory_mb(pid, "VmHWM")
            sim_rss = lib.median([lib.memory_mb(sim.pid) for sim in sims])
        _check_flash(sims, image.read_bytes())
        self.emit("rss_ready_mb", ready)
        self.emit("rss_flashing_mb", max(peak, hwm))
        self.emit("rss_sim_mb_each", sim_rss)

    def scale(self) -> None:
        for sockets in (1, 5, 10):
            runs = self.flashjig_runs(sockets) if sockets != 10 else [self.flashjig(10)]
            self._scale_point(f"scale_sockets_{sockets}", runs, sockets, 1)
        for mib in (1, 2, 4):
            runs = self.flashjig_runs(1, mib) if mib == 1 else [self.flashjig(1, mib)]
            self._scale_point(f"scale_image_{mib}mb", runs, 1, mib)

    def changes(self) -> None:
        """Each speed-up of the pipeline turned off alone, against all of them on."""
        on_1 = self.flashjig_runs(1)
        on_5 = self.flashjig_runs(5)
        no_ahead = [self.flashjig(1, without=("compress_ahead",)) for _ in range(self.repeat)]
        no_hex = [self.flashjig(5, without=("quiet_hex",)) for _ in range(self.repeat)]
        on_reflash = self.flashjig_runs(1, preload=True)
        no_skip = [self.flashjig(1, preload=True, without=("skip",)) for _ in range(self.repeat)]
        for name, runs, sockets in (
            ("all_on_1", on_1, 1),
            ("no_compress_ahead_1", no_ahead, 1),
            ("all_on_5", on_5, 5),
            ("no_quiet_hex_5", no_hex, 5),
            ("all_on_reflash", on_reflash, 1),
            ("no_skip_reflash", no_skip, 1),
        ):
            self.emit(f"changes_{name}_s", lib.median([_slowest(r, "verified_s") for r in runs]))
            cpu = lib.median([r["cpu_s"] for r in runs]) / sockets
            self.emit(f"changes_{name}_cpu_s_per_module", cpu)

    def _scale_point(self, name: str, runs: list[dict], sockets: int, mib: int) -> None:
        seconds = lib.median([_slowest(r, "verified_s") for r in runs])
        self.emit(f"{name}_s", seconds)
        self.emit(f"{name}_limit_ratio", seconds / lib.limit(self.image(mib).read_bytes()).seconds)
        self.emit(f"{name}_rss_mb", lib.median([r["hwm_mb"] for r in runs]))
        self.emit(f"{name}_cpu_s_per_module", lib.median([r["cpu_s"] for r in runs]) / sockets)


def _wait(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("timed out waiting for the station")
        time.sleep(0.02)


def _slowest(report: dict, key: str) -> float:
    return max(socket[key] for socket in report["sockets"].values())


def _check_flash(sims: list[lib.Sim], data: bytes) -> None:
    """After the sims are closed: every module holds the image (the run really wrote)."""
    for sim in sims:
        for index in range(1, len(sim.devices) + 1):
            if not sim.holds(data, index):
                raise RuntimeError(f"{sim.flash_file(index)} does not hold the image")


def _write_config(state: Path, image: Path, serials: dict[int, str]) -> Path:
    """The shipped config with ``image``, written as it is (header kept, so the modules'
    flash can be compared with the file); sockets given a serial device get it and lose
    their detect switch (always seated)."""
    data = yaml.safe_load(SHIPPED_CONFIG.read_text())
    profile = data["profiles"][data["active_profile"]]
    profile["images"] = [{"offset": 0, "file": str(image)}]
    profile.update(flash_mode="keep", flash_freq="keep", flash_size="keep")
    for index, socket in enumerate(data["sockets"]):
        if index in serials:
            socket["serial"] = serials[index]
            socket.pop("detect", None)
    path = state / "flashjig.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


class _daemon:
    """``flashjig run`` as a child, ready once its control socket answers; yields its pid."""

    def __init__(self, config: Path, state: Path, *args: str, env: dict | None = None) -> None:
        command = [lib.PYTHON, "-m", "flashjig", "run", "--config", str(config)]
        command += ["--state-dir", str(state), *args]
        self.socket = control_socket(state)
        self.process = lib.spawn(
            command,
            env={**os.environ, **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def __enter__(self) -> int:
        deadline = time.monotonic() + 30
        while True:
            try:
                request(self.socket, {"cmd": "status"}, timeout=5)
                return self.process.pid
            except ControlError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    lib.stop(self.process)
                    raise RuntimeError("flashjig run did not start") from None
                time.sleep(0.1)

    def __exit__(self, *exc) -> None:
        lib.stop(self.process, timeout=30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help=f"comma-separated groups: {', '.join(GROUPS)}")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timed figure (median)")
    parser.add_argument("--seconds", type=float, default=60.0, help="idle measurement length")
    args = parser.parse_args(argv)
    chosen = [ALIASES.get(g, g) for g in args.only.split(",")] if args.only else list(GROUPS)
    unknown = [g for g in chosen if g not in GROUPS]
    if unknown:
        parser.error(f"unknown group(s) {', '.join(unknown)}; known: {', '.join(GROUPS)}")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # unwind: stop every child
    with tempfile.TemporaryDirectory(prefix="flashjig-bench-") as tmp:
        bench = Bench(Path(tmp), args.repeat)
        for key, value in lib.machine().items():
            bench.emit(f"machine_{key}", value)
        for group in dict.fromkeys(chosen):
            if group == "idle":
                bench.idle(args.seconds)
            else:
                getattr(bench, group)()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
