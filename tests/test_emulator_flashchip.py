"""The SPI NOR flash model: NOR semantics, bad sectors, a counterfeit that wraps, a backing
file; and what the unchanged esptool CLI sees of it through `flashjig sim` (flash-id, the
counterfeit's wrap)."""

import pytest
from helpers import ok, read_flash, run_esptool, start_sim, write_file

from flashjig.emulator.flashchip import FlashChip


@pytest.fixture
def chip():
    flash = FlashChip(1 << 20)
    yield flash
    flash.close()


def test_flash_starts_erased(chip):
    assert chip.read(0, chip.size) == b"\xff" * chip.size


def test_program_only_clears_bits(chip):
    chip.program(0x100, b"\xf0\xaa")
    chip.program(0x100, b"\x0f\xff")
    assert chip.read(0x100, 2) == b"\x00\xaa"
    # Programming ones never sets a cleared bit back.
    chip.program(0x100, b"\xff\x55")
    assert chip.read(0x100, 2) == b"\x00\x00"


def test_erase_sector_sets_exactly_one_sector(chip):
    chip.program(0, b"\x00" * 0x4000)
    chip.erase_sector(0x1000 + 0x123)  # any address inside the sector
    assert chip.read(0, 0x1000) == b"\x00" * 0x1000
    assert chip.read(0x1000, 0x1000) == b"\xff" * 0x1000
    assert chip.read(0x2000, 0x2000) == b"\x00" * 0x2000


def test_bad_sector_keeps_its_content():
    flash = FlashChip(1 << 20, bad_sectors=frozenset({2}))
    try:
        flash.program(0x1000, b"\x00" * 0x3000)  # sectors 1, 2, 3
        assert flash.read(0x1000, 0x1000) == b"\x00" * 0x1000
        assert flash.read(0x2000, 0x1000) == b"\xff" * 0x1000
        assert flash.read(0x3000, 0x1000) == b"\x00" * 0x1000
    finally:
        flash.close()


def test_counterfeit_wraps_addresses():
    flash = FlashChip(1 << 20, claimed_size=4 << 20)
    try:
        assert flash.jedec_id == 0x1640EF  # claims 4 MB
        flash.program(0x100000, b"\x12\x34")
        assert flash.read(0, 2) == b"\x12\x34"
        flash.program(0x3FFFFE, b"\x56\x78")  # the last two bytes of the claimed 4 MB
        assert flash.read(0xFFFFE, 2) == b"\x56\x78"
        # A read across the physical end wraps to the start.
        assert flash.read(0xFFFFE, 4) == b"\x56\x78\x12\x34"
        flash.erase_sector(0x200000)
        assert flash.read(0, 2) == b"\xff\xff"
    finally:
        flash.close()


def test_genuine_chip_claims_its_size():
    flash = FlashChip(1 << 20)
    try:
        assert flash.jedec_id == 0x1440EF
    finally:
        flash.close()


def test_backing_file_persists(tmp_path):
    path = tmp_path / "module.flash"
    flash = FlashChip(1 << 20, backing_file=path)
    flash.program(0x1234, b"persist")
    flash.erase_sector(0x5000)
    flash.close()
    assert path.stat().st_size == 1 << 20
    reopened = FlashChip(1 << 20, backing_file=path)
    try:
        assert reopened.read(0x1234, 7) == b"persist"
        assert reopened.read(0, 0x1234) == b"\xff" * 0x1234
    finally:
        reopened.close()


# -- through esptool's CLI ------------------------------------------------------------------


@pytest.fixture(scope="module")
def sim_4mb():
    yield from start_sim("--modules", "1", "--flash-size", "4MB")


@pytest.fixture(scope="module")
def counterfeit():
    yield from start_sim("--modules", "1", "--flash-size", "1MB", "--claimed-size", "4MB")


def test_flash_id_1mb(sim):
    text = ok(run_esptool(sim["module1"], "flash-id"))
    assert "Manufacturer: ef" in text
    assert "Device: 4014" in text
    assert "Detected flash size: 1MB" in text


def test_flash_id_4mb(sim_4mb):
    text = ok(run_esptool(sim_4mb["module1"], "flash-id"))
    assert "Manufacturer: ef" in text
    assert "Device: 4016" in text
    assert "Detected flash size: 4MB" in text


def test_flash_id_counterfeit_claims_4mb(counterfeit):
    text = ok(run_esptool(counterfeit["module1"], "flash-id"))
    assert "Device: 4016" in text
    assert "Detected flash size: 4MB" in text


@pytest.mark.slow
def test_counterfeit_wraps_at_1mib(counterfeit, tmp_path):
    device = counterfeit["module1"]
    pattern = bytes((i * 7 + i // 256) & 0xFF for i in range(0x1000))
    ok(run_esptool(device, "write-flash", "0x100000", str(write_file(tmp_path, "p.bin", pattern))))
    assert read_flash(device, tmp_path, 0x0, 0x1000) == pattern
