"""One measured station run, in a process of its own (started by bench/lib.py).

A flashjig Station, as the daemon builds it, on gpiozero mock pins, its sockets' serial
ports being emulated modules in other processes (``flashjig sim``: standalone modules wait
in download mode, so the strapping on the mock pins is a no-op there). The station
button is pressed and released once; a short press flashes every socket on release, so
the clock starts at the release. Prints one JSON object:

- ``sockets``: per socket, seconds from the release to verified (the pipeline's
  "booting" stage: every image written and checked by MD5) and to done (strapped back to
  its firmware, state ok), and the FlashResult;
- ``cpu_s``: this process's CPU from the release to the last socket done (all threads:
  the station, its sockets, esptool's code and zlib; no emulator);
- ``rss_before_mb``, ``rss_after_mb``, ``hwm_mb``: resident memory before the press,
  after, and at its peak over the process's life.

``web``: the station's status page is served, and open in a headless chromium (Debian's,
through Playwright) from before the press to the end, following the flash live.

``without`` turns speed-ups of the pipeline off, to measure each one's effect:
``quiet_hex`` (esptool formats every packet as hex again), ``compress_ahead`` (the image is
compressed when the first module needs it), ``skip`` (images already there are rewritten).
"""

import contextlib
import json
import resource
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import esptool.loader
from gpiozero.pins.mock import MockFactory

import flashjig.station.socket
from flashjig.config import Config, ImageSpec, Profile, SocketConfig, StationConfig
from flashjig.config.model import Chip
from flashjig.flashing import esptool_internals, pipeline
from flashjig.flashing.images import load_images
from flashjig.hardware.pi import PiHardware
from flashjig.station.commands import StationCommands
from flashjig.station.journal import JOURNAL_FILE, Journal
from flashjig.station.station import Station
from flashjig.station.status import SocketState, SocketStatus

BUTTON = "GPIO3"
# Two lines per socket, ten sockets at most; the Pi's numbering does not matter to mocks.
PINS = [f"GPIO{n}" for n in range(4, 28) if n != 3]
PRESS_S = 0.15
DONE = (SocketState.OK, SocketState.FAILED)


def build_config(
    devices: list[str], images: list[tuple[int, Path]], chip: Chip, baud: int, state: Path
) -> Config:
    specs = tuple(ImageSpec(offset, path, None, chip) for offset, path in images)
    profile = Profile("bench", specs, baud=baud)
    sockets = tuple(
        SocketConfig(f"socket{i + 1}", device, boot=PINS[2 * i], en=PINS[2 * i + 1], chip=chip)
        for i, device in enumerate(devices)
    )
    return Config(
        path=state / "bench.yaml",
        station=StationConfig(id="bench", button=BUTTON, retries=0),
        profiles={"bench": profile},
        active_profile="bench",
        sockets=sockets,
    )


def turn_off(changes: list[str]) -> None:
    for change in changes:
        if change == "quiet_hex":
            esptool_internals.quiet_hex_dumps()  # once; esptool's own formatter back in place
            esptool.loader.HexFormatter = esptool_internals.QuietHexFormatter.__base__
        elif change == "compress_ahead":
            pipeline._compress_ahead = lambda job: None
        elif change == "skip":
            pipeline._holds = lambda *args: False
        else:
            raise ValueError(f"unknown change {change!r}")


def memory_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@contextlib.contextmanager
def _page_open(station: Station, journal: Journal) -> Iterator[None]:
    """The status page served, and a headless chromium showing it (all five tiles)."""
    import shutil

    from playwright.sync_api import sync_playwright

    from flashjig.cli.common import parse_since
    from flashjig.config import WebConfig
    from flashjig.web.server import StatusPage

    page_server = StatusPage(
        WebConfig(host="127.0.0.1", port=0), StationCommands(station), parse_since=parse_since
    )
    page_server.start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=shutil.which("chromium"), args=["--no-sandbox"]
            )
            page = browser.new_page()
            page.goto(page_server.url)
            rows = len(station.sockets)
            page.wait_for_function(f"document.querySelectorAll('#tray .tile').length === {rows}")
            try:
                yield
            finally:
                browser.close()
    finally:
        page_server.stop()


def main() -> int:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the station, clean up
    spec = json.loads(sys.argv[1])
    devices = spec["devices"]
    results = {}
    real_flash = flashjig.station.socket.flash

    def flash_and_keep(job):
        result = real_flash(job)
        results[job.socket] = result.as_dict()
        return result

    flashjig.station.socket.flash = flash_and_keep  # to report each FlashResult, unchanged
    turn_off(spec.get("without", []))

    with tempfile.TemporaryDirectory(prefix="flashjig-bench-station-") as tmp:
        state = Path(tmp)
        images = [(offset, Path(path)) for offset, path in spec["images"]]
        config = build_config(devices, images, Chip(spec["chip"]), spec["baud"], state)
        journal = Journal(state / JOURNAL_FILE, station=config.station.id)
        factory = MockFactory()
        # The Pi's hardware as the config wires it (serial ports at their paths), mock pins.
        hardware = PiHardware(config, pin_factory=factory)
        station = Station(config, load_images(config.profile), journal, hardware=hardware)
        verified: dict[str, float] = {}
        done: dict[str, float] = {}
        finished = threading.Event()
        started = 0.0

        def changed(status: SocketStatus) -> None:
            now = time.monotonic() - started
            if status.stage == "booting":
                verified.setdefault(status.name, now)
            if status.state in DONE and status.name not in done:
                done[status.name] = now
                if len(done) == len(devices):
                    finished.set()

        watching = contextlib.ExitStack()
        try:
            station.start()
            if spec.get("web"):
                watching.enter_context(_page_open(station, journal))
            station.subscribe(changed)
            button = factory.pin(BUTTON)
            rss_before = memory_mb("VmRSS")
            button.drive_low()
            time.sleep(PRESS_S)
            cpu0 = cpu_s()
            started = time.monotonic()
            button.drive_high()
            finished.wait(timeout=600)
            cpu = cpu_s() - cpu0
            rss_after = memory_mb("VmRSS")
        finally:
            watching.close()
            station.stop()
            journal.close()
    report = {
        "sockets": {
            name: {
                "verified_s": verified.get(name),
                "done_s": done.get(name),
                **results.get(name, {"result": "not run"}),
            }
            for name in (f"socket{i + 1}" for i in range(len(devices)))
        },
        "cpu_s": cpu,
        "rss_before_mb": rss_before,
        "rss_after_mb": rss_after,
        "hwm_mb": memory_mb("VmHWM"),
    }
    print(json.dumps(report, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
