"""Production rules through the whole pipeline, against emulated modules."""

import dataclasses
import json
from pathlib import Path

import pytest
from helpers import flashjig, seated

from flashjig.config import BootCheck, BurnIn, Identity
from flashjig.emulator import Faults
from flashjig.emulator.firmware import build_firmware
from flashjig.emulator.module import State
from flashjig.flashing.identity import Unit, read_unit_record
from flashjig.flashing.images import load_images
from flashjig.flashing.pipeline import FlashJob, flash
from flashjig.flashing.result import Reason
from flashjig.flashing.sdklayout import RF_INIT_DATA
from flashjig.simulation.hardware import ModuleSpec, SimulatedHardware
from flashjig.station.journal import JOURNAL_FILE, Journal


def run(config, hardware, socket="socket1", profile=None, **job):
    profile = profile or config.profile
    with seated(config, hardware, socket, keep_power=True) as lines:
        return flash(
            FlashJob(
                socket=socket,
                port=hardware.port(socket),
                lines=lines,
                profile=profile,
                images=load_images(profile),
                **job,
            )
        )


def with_profile(config, **changes):
    profile = dataclasses.replace(config.profile, **changes)
    return dataclasses.replace(config, profiles={**config.profiles, profile.name: profile})


def old_content(module, seed=99):
    old = build_firmware(0x100000, seed=seed)
    module.flash.erase_chip()
    module.flash.program(0, old[: module.flash.size])
    return module.flash.read(0, module.flash.size)


def test_a_1mb_module_with_a_4mb_profile_is_refused_untouched(station_config):
    config = with_profile(station_config, min_flash_size="4MB")
    with SimulatedHardware(config) as hw:
        before = old_content(hw.modules["socket1"])
        result = run(config, hw)
        assert result.reason == Reason.FLASH_TOO_SMALL
        assert result.detail == "flash too small (detected 1MB, profile needs 4MB)"
        assert hw.modules["socket1"].flash.read(0, 1 << 20) == before


def test_a_wrap_around_counterfeit_is_caught_without_losing_data(make_config, tmp_path):
    data = tmp_path / "data.bin"
    data.write_bytes(b"\x5a" * 0x1000)
    config = make_config([(0, build_path(tmp_path)), (0x200000, data)])
    spec = ModuleSpec(flash_size="1MB", claimed_size="4MB")
    with SimulatedHardware(config, modules={"socket1": spec}) as hw:
        module = hw.modules["socket1"]
        before = old_content(module)
        result = run(config, hw)
        assert result.reason == Reason.FLASH_TOO_SMALL
        assert result.claimed_flash_size == "4MB" and result.flash_size == "1MB"
        assert "detected 1MB" in result.detail
        assert module.flash.read(0, 1 << 20) == before
    # A blank counterfeit too (equal contents everywhere: the write test decides).
    with SimulatedHardware(config, modules={"socket1": spec}) as hw:
        result = run(config, hw)
        assert result.flash_size == "1MB" and result.reason == Reason.FLASH_TOO_SMALL
        assert hw.modules["socket1"].flash.read(0, 1 << 20) == b"\xff" * (1 << 20)


def build_path(tmp_path: Path, size=0x80000, **kwargs) -> Path:
    path = tmp_path / f"fw-{size:x}.bin"
    path.write_bytes(build_firmware(size, **kwargs))
    return path


def test_genuine_4mb_module_passes_the_capacity_check(make_config, tmp_path):
    config = make_config([(0, build_path(tmp_path))])
    with SimulatedHardware(config, modules={"socket1": ModuleSpec("4MB")}) as hw:
        result = run(config, hw)
        assert result.ok and result.flash_size == "4MB" and result.claimed_flash_size is None


@pytest.mark.parametrize("content", [b"\x5a\xa5" * 0x800, b"\xff" * 0x1000], ids=["data", "blank"])
def test_the_capacity_check_leaves_a_genuine_module_as_it_was(make_config, tmp_path, content):
    # Equal sectors at 0 and at every smaller size look like a wrap until the marker
    # test says otherwise; what they held must be there afterwards.
    data = tmp_path / "data.bin"
    data.write_bytes(b"\x33" * 0x1000)
    config = make_config([(0x300000, data)])
    with SimulatedHardware(config, modules={"socket1": ModuleSpec("4MB")}) as hw:
        chip = hw.modules["socket1"].flash
        for offset in (0, 0x80000, 0x100000, 0x200000):
            chip.program(offset, content)
        result = run(config, hw)
        assert result.ok and result.flash_size == "4MB", result.detail
        for offset in (0, 0x80000, 0x100000, 0x200000):
            assert chip.read(offset, 0x1000) == content, hex(offset)


def test_backup_equals_the_previous_content(station_config, tmp_path):
    config = with_profile(station_config, backup="before_write")
    with SimulatedHardware(config) as hw:
        before = old_content(hw.modules["socket1"])
        result = run(config, hw, state_dir=tmp_path / "state")
        assert result.ok, result.detail
        assert Path(result.backup).read_bytes() == before
        assert hw.modules["socket1"].flash.read(0, 0x1000) != before[:0x1000]


def test_restore_writes_a_backup_back(station_config, tmp_path):
    backup = tmp_path / "old.bin"
    backup.write_bytes(b"\x00\x11\x22\x33" * (0x100000 // 4))  # not an image: still restored
    run_ = flashjig(
        "restore",
        str(backup),
        "--socket",
        "socket2",
        "--simulate",
        "--config",
        str(station_config.path),
    )
    assert run_.returncode == 0, run_.stderr
    result = json.loads(run_.stdout)
    assert result["result"] == "ok" and result["bytes"] == 0x100000


def test_rf_init_goes_where_the_size_says(make_config, tmp_path):
    config = with_profile(make_config([(0, build_path(tmp_path))]), rf_init="auto")
    for size, at in (("1MB", 0xFC000), ("4MB", 0x3FC000)):
        with SimulatedHardware(config, modules={"socket1": ModuleSpec(size)}) as hw:
            result = run(config, hw)
            assert result.ok, result.detail
            chip = hw.modules["socket1"].flash
            assert chip.read(at, 128) == RF_INIT_DATA
            assert chip.read(at + 0x1000, 0x3000) == b"\xff" * 0x3000


def test_rf_init_that_overlaps_an_image_is_refused(station_config):
    config = with_profile(station_config, rf_init="auto")  # a 1 MiB image on a 1 MB module
    with SimulatedHardware(config) as hw:
        result = run(config, hw)
        assert result.reason == Reason.IMAGE_LAYOUT
        assert "overlaps esp_init_data_default.bin at 0xfc000 on a 1MB module" in result.detail


def test_unit_record_and_serial(make_config, tmp_path):
    ident = Identity(mode="record", offset=0xFB000)
    config = with_profile(make_config([(0, build_path(tmp_path))]), identity=ident)
    journal = Journal(tmp_path / JOURNAL_FILE)

    def unit_for(mac):
        row = journal.allocate_unit(
            mac, profile="demo", serial_range=(10, 20), client_id=lambda n: f"node-{n:03d}"
        )
        return Unit(row.serial, row.client_id, mac)

    try:
        with SimulatedHardware(config) as hw:
            first = run(config, hw, unit_for=unit_for)
            again = run(config, hw, unit_for=unit_for)
            other = run(config, hw, socket="socket2", unit_for=unit_for)
            record = read_unit_record(hw.modules["socket1"].flash.read(0xFB000, 0x1000))
        assert (first.serial, again.serial, other.serial) == (10, 10, 11)
        assert record["client_id"] == "node-010" and record["mac"] == first.mac
        assert first.client_id == "node-010"
    finally:
        journal.close()


def test_placeholder_identity_shows_in_what_the_module_prints(make_config, tmp_path):
    marker = "@@CLIENT_ID_PLACEHOLDER@@"
    path = build_path(tmp_path, banner=f"\r\nhello from {marker}\r\nready\r\n")
    config = make_config([(0, path)])
    ident = Identity(mode="placeholder", placeholder=marker, template="sensor-{serial:04d}")
    config = with_profile(
        config, identity=ident, boot_check=BootCheck(pattern=r"hello from sensor-\d{4}")
    )
    unit = Unit(7, "sensor-0007", "")
    with SimulatedHardware(config) as hw:
        result = run(config, hw, unit_for=lambda mac: dataclasses.replace(unit, mac=mac))
        assert result.ok, result.detail
        assert "hello from sensor-0007" in result.boot_log


def test_boot_check_passes_on_the_banner_and_fails_when_silent(make_config, tmp_path):
    check = BootCheck(pattern="ready", timeout=2)
    good = with_profile(make_config([(0, build_path(tmp_path))]), boot_check=check)
    with SimulatedHardware(good) as hw:
        result = run(good, hw)
        assert result.ok and "ready" in result.boot_log
        assert hw.modules["socket1"].state is State.APP
    silent = with_profile(
        make_config([(0, build_path(tmp_path, size=0x40000, banner=""))]), boot_check=check
    )
    with SimulatedHardware(silent) as hw:
        result = run(silent, hw)
        assert result.reason == Reason.DID_NOT_BOOT
        assert "within 2 s (expected /ready/)" in result.detail


def test_burn_in_fails_a_module_that_resets(make_config, tmp_path):
    config = with_profile(
        make_config([(0, build_path(tmp_path))]),
        boot_check=BootCheck(pattern="ready", timeout=2),
        burn_in=BurnIn(seconds=3),
    )
    flaky = {"socket1": ModuleSpec(faults=Faults(reset_after=1.0))}
    with SimulatedHardware(config, modules=flaky) as hw:
        result = run(config, hw)
        assert result.reason == Reason.BURN_IN_FAILED
        assert result.detail == "burn-in: the firmware restarted"
        assert result.boot_log.count("ready") >= 2


def test_folder_identity_hands_out_each_image_once(station_config, tmp_path):
    folder = tmp_path / "units"
    folder.mkdir()
    for n in (1, 2):
        (folder / f"node_{n:03d}.bin").write_bytes(
            build_firmware(0x40000, banner=f"\r\nnode {n}\r\nready\r\n")
        )
    ident = Identity(mode="folder", folder=folder)
    config = with_profile(station_config, identity=ident)
    journal = Journal(tmp_path / JOURNAL_FILE)

    def unit_for(mac):
        row = journal.allocate_unit(
            mac,
            profile="demo",
            serial_range=(1, 9),
            client_id=lambda n: f"node-{n:03d}",
            images=sorted(p.name for p in folder.iterdir()),
        )
        return Unit(row.serial, row.client_id, mac, folder / row.image)

    try:
        with SimulatedHardware(config) as hw:
            first = run(config, hw, unit_for=unit_for)
            second = run(config, hw, socket="socket2", unit_for=unit_for)
            third = run(config, hw, socket="socket3", unit_for=unit_for)
            one = hw.modules["socket1"].flash.read(0, 0x40000)
            two = hw.modules["socket2"].flash.read(0, 0x40000)
        assert first.ok and second.ok
        assert first.images[0]["file"].endswith("node_001.bin")
        assert second.images[0]["file"].endswith("node_002.bin")
        assert b"node 1" in one and b"node 2" in two
        assert third.reason == Reason.NO_IDENTITY and "every per-unit image" in third.detail
    finally:
        journal.close()


def test_station_refuses_to_start_without_room_for_backups(station_config, tmp_path, monkeypatch):
    import shutil

    from flashjig.simulation.hardware import SimulatedHardware
    from flashjig.station.daemon import Daemon

    text = station_config.path.read_text().replace(
        "verify: true", "verify: true\n    backup: before_write"
    )
    station_config.path.write_text(text)
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=10 << 20))
    daemon = Daemon(station_config.path, tmp_path / "state", hardware=SimulatedHardware)
    assert daemon.run() == 1
    assert daemon.hardware is None  # stopped before any pin was made
