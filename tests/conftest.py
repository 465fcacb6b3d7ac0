"""Shared fixtures: generated firmware and station configs pointing at it, a station over
simulated hardware, a journal, `flashjig run --simulate` processes, a headless Chromium, a
mosquitto with a recording subscriber, `flashjig sim` modules and standalone emulated
modules."""

import contextlib
import dataclasses
import os
import shutil
from pathlib import Path

import pytest
import yaml
from buildcache import build_deb, once_per_run
from helpers import DaemonProcess, mqtt_config, start_sim
from mqtt_broker import Broker, Recorder

from flashjig.config import LedPins, load_config
from flashjig.emulator import EmulatedModule, Faults, FlashChip
from flashjig.emulator.firmware import build_firmware
from flashjig.mqtt.reporter import MqttReporter
from flashjig.simulation.station import simulated_station
from flashjig.station.commands import StationCommands
from flashjig.station.journal import JOURNAL_FILE, Journal

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "config" / "flashjig.yaml"


@pytest.fixture(scope="session")
def firmware_1m(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("firmware") / "demo.bin"
    path.write_bytes(build_firmware(0x100000))
    return path


def write_station_config(tmp_path: Path, images: list[tuple[int, Path]], **profile) -> Path:
    """The shipped 5-socket config with its profile's images (and any settings) replaced."""
    data = yaml.safe_load(SHIPPED.read_text())
    settings = data["profiles"][data["active_profile"]]
    settings["images"] = [{"offset": offset, "file": str(path)} for offset, path in images]
    settings.update(profile)
    path = tmp_path / "flashjig.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def make_config(tmp_path):
    """Build a Config from the shipped one with other images or profile settings."""
    return lambda images, **profile: load_config(write_station_config(tmp_path, images, **profile))


@pytest.fixture
def station_config(make_config, firmware_1m):
    return make_config([(0, firmware_1m)])


@pytest.fixture(scope="module")
def shipped():
    """The shipped config as it is (its image is built at run time, so not checked)."""
    return load_config(SHIPPED, check_files=False)


@pytest.fixture
def shipped_copy(tmp_path, firmware_1m):
    """The shipped config, comments and line numbers intact, next to an image that exists."""
    (tmp_path / "firmware").mkdir()
    shutil.copy(firmware_1m, tmp_path / "firmware" / "demo.bin")
    path = tmp_path / "flashjig.yaml"
    shutil.copy(SHIPPED, path)
    return path


@pytest.fixture(scope="session")
def package(tmp_path_factory) -> Path:
    """The Debian package built from the tree by ./jig deb, once per run for every test that
    needs it, whichever xdist worker runs it (buildcache.once_per_run); $FLASHJIG_TEST_DEB
    names one built already (by ./jig deb from this tree), to test the scripts again without
    building again."""
    given = os.environ.get("FLASHJIG_TEST_DEB")
    if given:
        return Path(given)
    return once_per_run(tmp_path_factory, "deb-amd64", build_deb)


# -- the station ----------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MiB tmpfs for the state directory, and a way to fill it to the last byte."""
    import subprocess

    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)])
    if made.returncode != 0:
        # Only root may mount; as root (CI) a mount that fails is a failure, never a skip.
        if os.geteuid() == 0:
            pytest.fail(f"cannot mount a tmpfs at {mount} as root")
        pytest.skip("cannot mount a tmpfs here (not root)")

    def fill() -> None:
        with open(mount / "filler", "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 4096)
            except OSError:  # ENOSPC: full
                pass

    try:
        yield mount, fill
    finally:
        subprocess.run(["umount", str(mount)], check=True)  # busy: a test left it open


@pytest.fixture
def rig(station_config, tmp_path):
    """Build a station over simulated hardware; settings may be overridden per test."""
    running = contextlib.ExitStack()

    def build(line_rate=False, bicolour=False, profiles=None, **station_settings):
        config = station_config
        if profiles:
            config = dataclasses.replace(config, profiles={**config.profiles, **profiles})
        if bicolour:  # hw/README.md's variant: red LEDs on the power pins, no power switches
            sockets = tuple(
                dataclasses.replace(s, led=LedPins(red=s.power, green=s.led.green), power=None)
                for s in config.sockets
            )
            config = dataclasses.replace(config, sockets=sockets)
        if station_settings:
            station = dataclasses.replace(config.station, **station_settings)
            config = dataclasses.replace(config, station=station)
        return running.enter_context(simulated_station(config, tmp_path, line_rate=line_rate))

    with running:
        yield build


@pytest.fixture
def page(station_config, tmp_path):
    """A started station (no module seated) and its status page: a function making it, with
    a password, and with commands allowed, as asked."""
    from flashjig.cli.common import parse_since
    from flashjig.config import WebConfig
    from flashjig.web.server import StatusPage

    pages = []

    def make(password: str | None = None, *, line_rate: bool = False, commands: bool = False):
        password_file = None
        if password is not None:
            password_file = tmp_path / "web-password"
            password_file.write_text(password + "\n")
        config = WebConfig(
            host="127.0.0.1", port=0, password_file=password_file, commands=commands
        )
        running = simulated_station(station_config, tmp_path / "state", line_rate=line_rate)
        station, hardware, _ = running.__enter__()
        status_page = StatusPage(config, StationCommands(station), parse_since=parse_since)
        status_page.start()
        pages.append((status_page, running))
        return status_page, station, hardware

    yield make
    for status_page, running in pages:
        status_page.stop()
        running.__exit__(None, None, None)


@pytest.fixture
def journal(tmp_path):
    with Journal(tmp_path / "state" / JOURNAL_FILE, station="jig-1") as journal:
        yield journal


@pytest.fixture
def start_daemon(station_config, tmp_path):
    """Start `flashjig run --simulate` (helpers.DaemonProcess), by default on station_config
    and tmp_path/state; whatever is still running after the test is killed."""
    started = []

    def start(*extra, config=None, state=None, env=None):
        daemon = DaemonProcess(
            config or station_config.path, state or tmp_path / "state", *extra, env=env
        )
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.close()


# -- the status page in a browser -----------------------------------------------------------


@pytest.fixture
def browser():
    """Debian's chromium, headless, driven by Playwright (imported here: only the browser
    tests need it)."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is not installed (./jig test installs it as root)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield launched
        launched.close()


# -- MQTT -----------------------------------------------------------------------------------


@pytest.fixture
def broker(tmp_path):
    b = Broker(tmp_path)
    yield b
    b.stop()


@pytest.fixture
def recorder(broker):
    r = Recorder(broker.port)
    yield r
    r.close()


@pytest.fixture
def mqtt_rig(station_config, broker, tmp_path):
    """A station over simulated hardware reporting to ``broker``: (station, hardware,
    journal, reporter); config, state directory and mqtt settings may be given."""
    running = contextlib.ExitStack()

    def build(config=None, state=None, **mqtt):
        config = config or mqtt_config(station_config.path, broker.port, **mqtt)
        state = state or tmp_path / "state"
        station, hardware, journal = running.enter_context(simulated_station(config, state))
        reporter = MqttReporter(config, StationCommands(station), state)
        reporter.start()
        running.callback(reporter.stop, flush_s=0.5)
        return station, hardware, journal, reporter

    with running:
        yield build


# -- emulated modules -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def sim():
    """Three modules served by `flashjig sim`, shared by a test file's tests."""
    yield from start_sim("--modules", "3")


@pytest.fixture
def standalone():
    """Make emulated modules on their own (no pins: waiting in download mode)."""
    modules = []

    def make(faults: Faults | None = None):
        flash = FlashChip(1 << 20)
        module = EmulatedModule("standalone", flash, faults=faults)
        modules.append((module, flash))
        return module

    yield make
    for module, flash in modules:
        module.close()
        flash.close()


def pytest_addoption(parser):
    parser.addoption(
        "--soak-cycles",
        type=int,
        default=6,
        help="insert-flash-remove cycles for tests/test_station_soak.py (the long run: 1000)",
    )
