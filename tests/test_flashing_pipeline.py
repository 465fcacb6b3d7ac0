"""The flash pipeline for one socket, against emulated modules on mock pins: written and
booted, the failures it names (no sync, flash too small, timeout, verify, cancelled), the
profile's header, and images already on a module not written again (what makes a reflash
fast; no timings here, bench/ measures them)."""

import hashlib
import struct
import threading
import time

import pytest
from helpers import flash_profile, job_for, old_content, run_job, seated, with_profile

from flashjig.emulator import Faults, FlashChip, loader
from flashjig.emulator.firmware import build_firmware
from flashjig.emulator.module import State
from flashjig.flashing.images import load_images
from flashjig.flashing.pipeline import flash
from flashjig.flashing.result import Reason, Stage
from flashjig.simulation.hardware import ModuleSpec, SimulatedHardware


def test_flashes_and_boots_the_new_firmware(station_config, firmware_1m):
    with SimulatedHardware(station_config) as hw:
        module = hw.modules["socket1"]
        result, events = run_job(station_config, hw)
        assert result.ok, result
        assert result.mac == module.mac_text
        assert result.flash_size == "1MB" and result.chip == "ESP8266EX"
        assert result.bytes == 0x100000
        image = load_images(station_config.profile)[0]
        expected = image.for_module("dout", "40m", "1MB")
        assert module.flash.read(0, len(expected)) == expected
        # Header rewritten to the profile's DOUT / 1 MB / 40 MHz.
        assert module.flash.read(2, 2) == bytes([3, 0x20])
        assert module.state is State.APP
        assert b"flashjig demo firmware" in b"".join(module.output)
        writing = [e for e in events if e.stage is Stage.WRITING]
        assert [e.done for e in writing] == sorted(e.done for e in writing)
        assert writing[-1].done == writing[-1].total == 0x100000
        assert events[-1].stage is Stage.BOOTING


@pytest.mark.slow
def test_gpio0_wired_wrong_fails_cleanly_with_no_sync(station_config):
    # The module's GPIO0 is on another pin than the config says: it boots its firmware.
    wiring = {"socket1": ModuleSpec(boot="GPIO1")}
    with SimulatedHardware(station_config, modules=wiring) as hw:
        started = time.monotonic()
        result, _ = run_job(station_config, hw)
        elapsed = time.monotonic() - started
        assert not result.ok
        assert result.reason == Reason.NO_SYNC
        assert "no answer from the ROM bootloader" in result.detail
        assert "no module's pull-up on the boot line: is a module seated" in result.detail
        # Each attempt: EN's 0.1 s reset, the boot hold (0.05, then 0.55 s: esptool's
        # escalation) and 5 syncs of ~0.15 s; 2 s to spare for a loaded machine.
        from flashjig.flashing.pipeline import CONNECT_ATTEMPTS
        from flashjig.hardware.strapping import RESET_HOLD_S, boot_hold

        attempts = range(1, CONNECT_ATTEMPTS + 1)
        expected = sum(RESET_HOLD_S + boot_hold(a) + 5 * 0.15 for a in attempts)
        assert elapsed < expected + 2, (elapsed, expected)
        assert hw.modules["socket1"].state is not State.DOWNLOAD


def test_image_larger_than_flash_is_refused_before_any_erase(station_config):
    with SimulatedHardware(station_config, modules={"socket1": ModuleSpec("512KB")}) as hw:
        module = hw.modules["socket1"]
        old = bytes(range(256)) * 16
        module.flash.erase_range(0, 0x1000)
        module.flash.program(0, old)
        result, _ = run_job(station_config, hw)
        assert result.reason == Reason.FLASH_TOO_SMALL
        assert result.detail == "flash too small (detected 512KB, profile needs 1MB)"
        assert module.flash.read(0, len(old)) == old


def test_a_1mb_module_with_a_4mb_profile_is_refused_untouched(station_config):
    config = with_profile(station_config, min_flash_size="4MB")
    with SimulatedHardware(config) as hw:
        before = old_content(hw.modules["socket1"])
        result = flash_profile(config, hw)
        assert result.reason == Reason.FLASH_TOO_SMALL
        assert result.detail == "flash too small (detected 1MB, profile needs 4MB)"
        assert hw.modules["socket1"].flash.read(0, 1 << 20) == before


@pytest.mark.slow
def test_module_silent_mid_write_fails_with_a_reason(station_config):
    pulled = {"socket1": ModuleSpec(faults=Faults(silent_after_bytes=300_000))}
    with SimulatedHardware(station_config, modules=pulled) as hw:
        started = time.monotonic()
        result, events = run_job(station_config, hw)
        assert not result.ok
        assert result.reason == Reason.TIMEOUT
        assert "while writing at 0x" in result.detail
        assert any(e.stage is Stage.WRITING for e in events)
        assert time.monotonic() - started < 10


def test_flash_that_does_not_take_a_program_fails_verify(station_config):
    worn = {"socket1": ModuleSpec(faults=Faults())}
    with SimulatedHardware(station_config, modules=worn) as hw:
        hw.modules["socket1"].flash.bad_sectors = frozenset({0x20})
        result, _ = run_job(station_config, hw)
        assert result.reason == Reason.VERIFY_FAILED
        assert "MD5 of flash at 0x0" in result.detail


def test_cancel_stops_between_blocks(station_config):
    cancel = threading.Event()
    cancel.set()
    with SimulatedHardware(station_config) as hw:
        result, _ = run_job(station_config, hw, cancel=cancel)
        assert result.reason == Reason.CANCELLED


def test_lower_baud_override_is_used(station_config):
    with SimulatedHardware(station_config) as hw:
        result, _ = run_job(station_config, hw, baud=115200)
        assert result.ok and result.baud == 115200


@pytest.mark.parametrize("detect", [True, False])
def test_profile_flash_size_in_header(make_config, firmware_1m, detect):
    config = make_config([(0, firmware_1m)], flash_size="detect" if detect else "1MB")
    with SimulatedHardware(config, modules={"socket1": ModuleSpec("2MB")}) as hw:
        result, _ = run_job(config, hw)
        assert result.ok
        header = hw.modules["socket1"].flash.read(3, 1)[0]
        assert header >> 4 == (3 if detect else 2)  # 2MB or 1MB per esptool's table
        digest = hashlib.md5(hw.modules["socket1"].flash.read(0x10000, 0x1000)).digest()
        assert digest == hashlib.md5(firmware_1m.read_bytes()[0x10000:0x11000]).digest()


# -- images already on the module are not written again -------------------------------------


def flash_socket(config, hardware, socket="socket1"):
    events = []
    images = load_images(config.profile)
    with seated(config, hardware, socket) as lines:
        job = job_for(config, hardware, socket, lines, images=images, on_progress=events.append)
        return flash(job), events, images


class ProgramCounter:
    """Counts the bytes the module's flash chip is asked to program."""

    def __init__(self, chip: FlashChip) -> None:
        self.bytes = 0
        self._program = chip.program
        chip.program = self

    def __call__(self, addr: int, data: bytes) -> None:
        self.bytes += len(data)
        self._program(addr, data)


@pytest.mark.slow
def test_second_flash_of_the_same_image_writes_nothing(station_config):
    with SimulatedHardware(station_config) as hw:
        module = hw.modules["socket1"]
        first, _, _ = flash_socket(station_config, hw)
        assert first.ok and first.bytes == 0x100000
        assert first.images[0]["skipped"] is False
        written = ProgramCounter(module.flash)
        again, events, images = flash_socket(station_config, hw)
        assert again.ok, again
        assert again.bytes == 0 and again.images[0]["skipped"] is True
        assert written.bytes == 0
        expected = images[0].for_module("dout", "40m", "1MB")
        assert module.flash.read(0, len(expected)) == expected
        assert events[-1].stage is Stage.BOOTING and events[-1].percent == 100.0
        assert b"flashjig demo firmware" in b"".join(module.output)


@pytest.mark.slow
def test_a_reflash_asks_each_digest_once(station_config, monkeypatch):
    """What esptool's --skip-flashed asks (the image's MD5), plus the capacity check's one
    comparison for a 1 MB chip (sector 0 against the sector at 512 KB): the first-sector
    probe reuses the capacity check's answer instead of hashing sector 0 again."""
    asked = []
    md5 = loader.Loader._md5

    def counting(self, op, data, checksum):
        asked.append(struct.unpack_from("<II", data))
        md5(self, op, data, checksum)

    with SimulatedHardware(station_config) as hw:
        assert flash_socket(station_config, hw)[0].ok
        monkeypatch.setitem(loader._STUB_COMMANDS, loader.Op.SPI_FLASH_MD5, counting)
        result, _, _ = flash_socket(station_config, hw)
    assert result.ok and result.bytes == 0
    assert asked == [(0, 0x1000), (0x80000, 0x1000), (0, 0x100000)]


@pytest.mark.slow
def test_a_different_image_is_written(make_config, station_config, tmp_path):
    other = tmp_path / "other.bin"
    other.write_bytes(build_firmware(0x100000, banner="\r\nother firmware\r\n", seed=7))
    other_config = make_config([(0, other)])
    with SimulatedHardware(station_config) as hw:
        module = hw.modules["socket1"]
        assert flash_socket(station_config, hw)[0].ok
        result, _, images = flash_socket(other_config, hw)
        assert result.ok and result.bytes == 0x100000
        assert result.images[0]["skipped"] is False
        expected = images[0].for_module("dout", "40m", "1MB")
        assert module.flash.read(0, len(expected)) == expected


@pytest.mark.slow
def test_an_image_that_matches_only_in_its_first_sector_is_rewritten(station_config):
    with SimulatedHardware(station_config) as hw:
        module = hw.modules["socket1"]
        assert flash_socket(station_config, hw)[0].ok
        module.flash.erase_sector(0x80000)  # the probe sector still matches, the rest not
        written = ProgramCounter(module.flash)
        result, _, images = flash_socket(station_config, hw)
        assert result.ok and result.bytes == 0x100000 and written.bytes == 0x100000
        expected = images[0].for_module("dout", "40m", "1MB")
        assert module.flash.read(0, len(expected)) == expected


@pytest.mark.slow
def test_each_sync_attempt_gets_a_fresh_strap(station_config):
    """A module that missed one reset gets another, not three syncs against one strap."""
    from flashjig.flashing.pipeline import CONNECT_ATTEMPTS

    silent = {"socket1": ModuleSpec(faults=Faults(silent=True))}
    with SimulatedHardware(station_config, modules=silent) as hw:
        socket = station_config.socket("socket1")
        en, gpio0 = (hw.pin_factory.pin(pin) for pin in (socket.en, socket.boot))
        straps = []  # EN rising with GPIO0 low: a strap into the ROM loader
        en.listeners.append(lambda _, high: straps.append(1) if high and not gpio0.state else 0)
        result, _ = run_job(station_config, hw)
        assert result.reason == Reason.NO_SYNC
        assert len(straps) == CONNECT_ATTEMPTS
        # Seated and powered, but silent: GPIO0 shows the module is there.
        wired = "a module's pull-up is on the boot line: is its serial line, or EN, wired?"
        assert wired in result.detail


@pytest.mark.slow
def test_a_flaky_module_that_misses_its_first_strap_is_flashed(station_config):
    """Silent for the first sync attempt only (say, its supply was still coming up)."""
    silent = {"socket1": ModuleSpec(faults=Faults(silent=True))}
    with SimulatedHardware(station_config, modules=silent) as hw:
        module = hw.modules["socket1"]
        en = hw.pin_factory.pin(station_config.socket("socket1").en)
        rises = []

        gpio0 = hw.pin_factory.pin(station_config.socket("socket1").boot)

        def wake_on_second_strap(_, high):
            if high and not gpio0.state:
                rises.append(high)
                if len(rises) == 2:
                    module.faults.silent = False

        en.listeners.insert(0, wake_on_second_strap)
        result, _ = run_job(station_config, hw)
        assert result.ok, result.detail


def test_each_connect_attempt_straps_with_its_number(monkeypatch):
    """The pipeline tells the straps which attempt it is on, so that a later one holds the
    boot line longer (esptool's 0.05 s, then 0.55 s); no sync answers here."""
    from esptool.util import FatalError

    from flashjig.flashing import pipeline

    class Straps:
        reenumerates = False
        attempts: list[int] = []

        def enter_bootloader(self, attempt=1):
            self.attempts.append(attempt)

        def why_silent(self):
            return "silent"

    def no_sync(*args, **kwargs):
        raise FatalError("Failed to connect")

    monkeypatch.setattr(pipeline, "detect_chip", no_sync)
    straps = Straps()
    with pytest.raises(pipeline.Failure):
        pipeline.connect("/dev/null", straps, attempts=3)
    assert straps.attempts == [1, 2, 3]
