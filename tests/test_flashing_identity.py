"""Per-unit identity: unit records, placeholder patches esptool still calls valid, and
through the pipeline a record and a serial per module, a client id the firmware prints,
and per-unit images from a folder, each used once."""

import dataclasses
import subprocess
import sys

import pytest
from helpers import build_path, flash_profile, with_profile

from flashjig.config import BootCheck, Identity
from flashjig.emulator.firmware import build_firmware
from flashjig.errors import IdentityError
from flashjig.flashing.identity import (
    Unit,
    patch_placeholder,
    read_unit_record,
    unit_record,
)
from flashjig.flashing.result import Reason
from flashjig.simulation.hardware import SimulatedHardware
from flashjig.station.journal import JOURNAL_FILE, Journal


def test_unit_record_round_trip():
    sector = unit_record(Unit(7, "node-007", "5c:cf:7f:00:00:07"), profile="p", station="s")
    assert len(sector) == 0x1000 and sector.endswith(b"\xff")
    record = read_unit_record(sector)
    assert record["serial"] == 7 and record["client_id"] == "node-007"
    damaged = sector[:10] + bytes([sector[10] ^ 1]) + sector[11:]
    with pytest.raises(ValueError, match="CRC"):
        read_unit_record(damaged)


def test_placeholder_patch_passes_esptool_image_info(tmp_path):
    marker = "@@CLIENT_ID_PLACEHOLDER@@"
    firmware = build_firmware(0x20000, banner=f"\r\nboot {marker}\r\nready\r\n")
    patched = patch_placeholder(firmware, marker, "node-042")
    assert patched != firmware and b"node-042\x00" in patched and len(patched) == len(firmware)
    path = tmp_path / "unit.bin"
    path.write_bytes(patched)
    info = subprocess.run(
        [sys.executable, "-m", "esptool", "--chip", "esp8266", "image-info", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert info.returncode == 0 and "(valid)" in info.stdout, info.stdout
    # Without the checksum fix esptool would call it invalid.
    naive = firmware.replace(marker.encode(), b"node-042".ljust(len(marker), b"\x00"))
    path.write_bytes(naive)
    info = subprocess.run(
        [sys.executable, "-m", "esptool", "--chip", "esp8266", "image-info", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "(valid)" not in info.stdout


def test_placeholder_refusals():
    firmware = build_firmware(0x20000, banner="id=@@ID@@")
    with pytest.raises(IdentityError, match="does not fit"):
        patch_placeholder(firmware, "@@ID@@", "node-00001")
    with pytest.raises(IdentityError, match="not in the image"):
        patch_placeholder(firmware, "@@NOPE@@", "x")


@pytest.mark.slow
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
            first = flash_profile(config, hw, unit_for=unit_for)
            again = flash_profile(config, hw, unit_for=unit_for)
            other = flash_profile(config, hw, socket="socket2", unit_for=unit_for)
            record = read_unit_record(hw.modules["socket1"].flash.read(0xFB000, 0x1000))
        assert (first.serial, again.serial, other.serial) == (10, 10, 11)
        assert record["client_id"] == "node-010" and record["mac"] == first.mac
        assert first.client_id == "node-010"
    finally:
        journal.close()


@pytest.mark.slow
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
        result = flash_profile(config, hw, unit_for=lambda mac: dataclasses.replace(unit, mac=mac))
        assert result.ok, result.detail
        assert "hello from sensor-0007" in result.boot_log


@pytest.mark.slow
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
            first = flash_profile(config, hw, unit_for=unit_for)
            second = flash_profile(config, hw, socket="socket2", unit_for=unit_for)
            third = flash_profile(config, hw, socket="socket3", unit_for=unit_for)
            one = hw.modules["socket1"].flash.read(0, 0x40000)
            two = hw.modules["socket2"].flash.read(0, 0x40000)
        assert first.ok and second.ok
        assert first.images[0]["file"].endswith("node_001.bin")
        assert second.images[0]["file"].endswith("node_002.bin")
        assert b"node 1" in one and b"node 2" in two
        assert third.reason == Reason.NO_IDENTITY and "every per-unit image" in third.detail
    finally:
        journal.close()
