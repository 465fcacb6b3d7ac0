"""Per-unit identity: serials in the journal, unit records, placeholder patches."""

import subprocess
import sys

import pytest

from flashjig.config import Identity
from flashjig.emulator.firmware import build_firmware
from flashjig.errors import IdentityError, UnitsExhausted
from flashjig.flashing.identity import (
    Unit,
    client_id,
    patch_placeholder,
    read_unit_record,
    unit_record,
)
from flashjig.station.journal import JOURNAL_FILE, Journal

IDENTITY = Identity(mode="record", template="node-{serial:03d}", offset=0xFB000)


def allocate(journal, mac, **kwargs):
    kwargs.setdefault("serial_range", (1, 999))
    return journal.allocate_unit(
        mac, profile="p", client_id=lambda n: client_id(IDENTITY, n, mac), **kwargs
    )


def test_serials_are_per_mac_and_stable(tmp_path):
    with Journal(tmp_path / JOURNAL_FILE) as journal:
        a = allocate(journal, "5c:cf:7f:00:00:01")
        b = allocate(journal, "5c:cf:7f:00:00:02")
        again = allocate(journal, "5c:cf:7f:00:00:01")
    assert (a.serial, b.serial, again.serial) == (1, 2, 1)
    assert a.client_id == "node-001" and b.client_id == "node-002"


def test_serial_range_keeps_stations_apart_and_runs_out(tmp_path):
    with Journal(tmp_path / JOURNAL_FILE) as journal:
        assert allocate(journal, "aa", serial_range=(500, 501)).serial == 500
        assert allocate(journal, "bb", serial_range=(500, 501)).serial == 501
        with pytest.raises(UnitsExhausted, match="500-501 is used up"):
            allocate(journal, "cc", serial_range=(500, 501))


def test_per_unit_images_are_each_used_once(tmp_path):
    images = ["node_001.bin", "node_002.bin"]
    with Journal(tmp_path / JOURNAL_FILE) as journal:
        assert allocate(journal, "aa", images=images).image == "node_001.bin"
        assert allocate(journal, "bb", images=images).image == "node_002.bin"
        assert allocate(journal, "aa", images=images).image == "node_001.bin"
        with pytest.raises(UnitsExhausted, match="per-unit image"):
            allocate(journal, "cc", images=images)


KILLER = """
import os, signal, sys
from flashjig.station.journal import Journal
journal = Journal(sys.argv[1])
for n in range(int(sys.argv[2]), int(sys.argv[2]) + 40):
    journal.allocate_unit(f"mac-{n % 25}", profile="p", serial_range=(1, 10_000),
                          client_id=lambda s: f"node-{s}")
    if n % 7 == 6:
        os.kill(os.getpid(), signal.SIGKILL)
"""


def test_serials_unique_under_kill_9(tmp_path):
    path = tmp_path / JOURNAL_FILE
    Journal(path).close()
    for start in range(0, 200, 40):
        run = subprocess.run([sys.executable, "-c", KILLER, str(path), str(start)], timeout=60)
        assert run.returncode == -9
    with Journal(path) as journal:
        units = journal.units()
    macs = [u.mac for u in units]
    serials = [u.serial for u in units]
    assert len(macs) == len(set(macs)) and len(serials) == len(set(serials))
    assert serials == list(range(1, len(serials) + 1))


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
