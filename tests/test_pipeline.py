"""The flash pipeline for one socket, against emulated modules on mock pins."""

import hashlib
import logging
import threading
import time

import pytest
from helpers import seated

from flashjig.emulator import Faults
from flashjig.emulator.module import State
from flashjig.flashing.images import load_images
from flashjig.flashing.pipeline import FlashJob, flash
from flashjig.flashing.result import Reason, Stage
from flashjig.simulation.hardware import ModuleSpec, SimulatedHardware


def run_job(config, hardware, socket="socket1", **job_args):
    events = []
    # Power kept on: the tests look at the running module afterwards.
    with seated(config, hardware, socket, keep_power=True) as lines:
        job = FlashJob(
            socket=socket,
            port=hardware.port(socket),
            lines=lines,
            profile=config.profile,
            images=load_images(config.profile),
            on_progress=events.append,
            **job_args,
        )
        return flash(job), events


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


def test_gpio0_wired_wrong_fails_cleanly_with_no_sync(station_config):
    # The module's GPIO0 is on another pin than the config says: it boots its firmware.
    wiring = {"socket1": ModuleSpec(gpio0="GPIO1")}
    with SimulatedHardware(station_config, modules=wiring) as hw:
        started = time.monotonic()
        result, _ = run_job(station_config, hw)
        elapsed = time.monotonic() - started
        assert not result.ok
        assert result.reason == Reason.NO_SYNC
        assert "no answer from the ROM bootloader" in result.detail
        assert elapsed < 5, elapsed
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


def test_sockets_flash_in_parallel_with_routed_esptool_logs(station_config, caplog):
    caplog.set_level(logging.DEBUG, logger="flashjig.esptool")
    results = {}
    with SimulatedHardware(station_config, line_rate=True) as hw:

        def work(name):
            results[name] = run_job(station_config, hw, socket=name)[0]

        threads = [threading.Thread(target=work, args=(n,)) for n in ("socket1", "socket2")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        macs = {n: hw.modules[n].mac_text for n in results}
    assert all(r.ok for r in results.values()), results
    assert {n: r.mac for n, r in results.items()} == macs
    tagged = {r.SOCKET for r in caplog.records if r.name == "flashjig.esptool"}
    assert tagged == {"socket1", "socket2"}
    for record in caplog.records:
        if "Stub flasher running" in record.getMessage():
            assert record.getMessage().startswith(record.SOCKET)


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
