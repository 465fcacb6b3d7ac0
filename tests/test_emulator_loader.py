"""The ROM bootloader and the flasher stub, command by command: the ROM's erase-size bug
against esptool's compensation, and through the unchanged esptool CLI against `flashjig
sim` write, read, verify (stub and ROM), a baud change, region and chip erase; the stub's
baud rate through esptool's API."""

import esptool.cmds
import pytest
from esptool.targets.esp8266 import ESP8266ROM
from esptool.util import FatalError
from helpers import MIB, ok, output, read_flash, run_esptool, write_file

from flashjig.emulator.firmware import build_firmware
from flashjig.emulator.flashchip import BLOCK, SECTOR
from flashjig.emulator.loader import rom_erase_span

# -- the ROM erase-size bug against esptool's compensation ----------------------------------


ROM = object.__new__(ESP8266ROM)  # get_erase_size uses only FLASH_SECTOR_SIZE


def erase_cases():
    # Sector-aligned offsets on both sides of the 64 KiB boundary at 0x10000 (and 0x20000).
    offsets = range(0x8000, 0x21000, SECTOR)
    for offset in offsets:
        for sectors in range(1, 101):
            for size in (sectors * SECTOR, sectors * SECTOR - 0x123):
                yield offset, size


def test_rom_erase_span_with_esptool_compensation_covers_the_write():
    short = []
    for offset, size in erase_cases():
        request = ESP8266ROM.get_erase_size(ROM, offset, size)
        span = rom_erase_span(request, offset)
        assert span >= size, (hex(offset), size, request, span)
        assert span < size + BLOCK, (hex(offset), size, request, span)
        if request < size:
            short.append((offset, size))
    # The compensated request alone falls short for most writes: an emulator that erased
    # only what FLASH_BEGIN asked for would program over old data.
    assert short
    request = ESP8266ROM.get_erase_size(ROM, 0x3000, 200000)
    assert request < 200000
    assert rom_erase_span(request, 0x3000) == 0x34000 - 0x3000


def test_rom_erase_span_models_the_bug():
    # Asked for 4 sectors at the start of a block, the ROM erases 4 + 4.
    assert rom_erase_span(4 * SECTOR, 0x10000) == 8 * SECTOR
    # Asked for 20 sectors three sectors before a block boundary: 3 head sectors, then
    # all 20 again.
    assert rom_erase_span(20 * SECTOR, 0xD000) == 23 * SECTOR


# -- write, read, verify through esptool's CLI ----------------------------------------------


@pytest.fixture(scope="module")
def firmware(tmp_path_factory):
    path = tmp_path_factory.mktemp("firmware") / "firmware.bin"
    data = build_firmware(MIB)
    path.write_bytes(data)
    return path, data


@pytest.mark.slow
def test_write_read_verify(sim, firmware, tmp_path):
    device = sim["module1"]
    path, data = firmware
    text = ok(run_esptool(device, "write-flash", "0x0", str(path)))
    assert "compressed" in text  # the stub's deflate path
    assert "Hash of data verified" in text
    assert read_flash(device, tmp_path, 0, MIB) == data
    assert "digest matched" in ok(run_esptool(device, "verify-flash", "0x0", str(path)))

    modified = bytearray(data)
    modified[0x54321] ^= 0x40
    bad = write_file(tmp_path, "modified.bin", bytes(modified))
    result = run_esptool(device, "verify-flash", "0x0", str(bad))
    assert result.returncode != 0
    assert "digest mismatch" in output(result)


@pytest.mark.slow
def test_no_stub_write_survives_rom_erase_bug(sim, firmware, tmp_path):
    """esptool asks the ROM to erase less than it writes, relying on the ROM erasing more;
    the bytes beyond the requested erase are only right if the emulator has the bug too."""
    device = sim["module2"]
    path, old = firmware
    ok(run_esptool(device, "write-flash", "0x0", str(path)))

    offset = 0x3000
    new = build_firmware(MIB, seed=4242)[0x20000 : 0x20000 + 200000]
    assert new != old[offset : offset + len(new)]
    new_path = write_file(tmp_path, "part.bin", new)
    text = ok(run_esptool(device, "--no-stub", "write-flash", hex(offset), str(new_path)))
    assert "Stub flasher running" not in text
    assert "compressed" not in text  # the ROM has no deflate: plain FLASH_DATA

    assert "digest matched" in ok(run_esptool(device, "verify-flash", hex(offset), str(new_path)))
    end = offset + len(new)
    sector_end = -(-end // 0x1000) * 0x1000
    assert sector_end == 0x34000
    got = read_flash(device, tmp_path, 0, 0x40000)
    assert got[:offset] == old[:offset]
    assert got[offset:end] == new
    assert got[end:sector_end] == b"\xff" * (sector_end - end)
    assert got[sector_end:] == old[sector_end:0x40000]


@pytest.mark.slow
def test_write_at_921600(sim, firmware):
    device = sim["module3"]
    path, _data = firmware
    text = ok(run_esptool(device, "--baud", "921600", "write-flash", "0x0", str(path)))
    assert "Changing baud rate to 921600" in text
    assert "Hash of data verified" in text
    text = ok(run_esptool(device, "verify-flash", "0x0", str(path)))
    assert "digest matched" in text


@pytest.mark.slow
def test_erase_region(sim, tmp_path):
    device = sim["module3"]
    data = build_firmware(MIB, seed=7)[0x20000 : 0x20000 + 0x4000]
    assert b"\xff" * 16 not in data
    ok(run_esptool(device, "write-flash", "0xF000", str(write_file(tmp_path, "d.bin", data))))
    ok(run_esptool(device, "erase-region", "0x10000", "0x2000"))
    got = read_flash(device, tmp_path, 0xF000, 0x4000)
    assert got[:0x1000] == data[:0x1000]
    assert got[0x1000:0x3000] == b"\xff" * 0x2000
    assert got[0x3000:] == data[0x3000:]


@pytest.mark.slow
def test_erase_flash(sim, tmp_path):
    device = sim["module3"]
    chunk = build_firmware(MIB, seed=11)[0x20000 : 0x20000 + 0x2000]
    ranges = [0x0, 0x7E000, 0xFE000]
    pairs = []
    for address in ranges:
        pairs += [hex(address), str(write_file(tmp_path, f"c{address:x}.bin", chunk))]
    ok(run_esptool(device, "write-flash", *pairs))
    assert read_flash(device, tmp_path, 0x7E000, 0x2000) == chunk
    ok(run_esptool(device, "erase-flash"))
    for address in ranges:
        assert read_flash(device, tmp_path, address, 0x2000) == b"\xff" * 0x2000


# -- the stub's baud rate -------------------------------------------------------------------


CHIP_MAGIC_ADDR = 0x40001000


@pytest.fixture
def stub(standalone):
    """esptool's stub running on a standalone module, host at 115200."""
    module = standalone()
    # The loader closes its port as the block ends; the stub's is the same one.
    with esptool.cmds.detect_chip(
        module.device, 115200, connect_mode="no-reset", connect_attempts=1
    ) as esp:
        stub = esptool.cmds.run_stub(esp)
        assert stub.IS_STUB
        yield stub


def test_stub_changes_baud_on_command(stub):
    stub.change_baud(921600)
    assert stub.read_reg(CHIP_MAGIC_ADDR, timeout=1) == ESP8266ROM.MAGIC_VALUE
    # The module now sends at 921600: a host still at 115200 hears only garbage.
    stub._set_port_baudrate(115200)
    with pytest.raises(FatalError):
        stub.read_reg(CHIP_MAGIC_ADDR, timeout=0.5)


def test_stub_uart_does_not_follow_host_baud(stub):
    assert stub.read_reg(CHIP_MAGIC_ADDR, timeout=1) == ESP8266ROM.MAGIC_VALUE
    stub._set_port_baudrate(921600)  # the host alone; the module was never told
    with pytest.raises(FatalError):
        stub.read_reg(CHIP_MAGIC_ADDR, timeout=0.5)
