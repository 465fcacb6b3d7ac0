"""The emulated ESP32 and ESP32-C3 through the unchanged esptool CLI against `flashjig sim
--chip`: detection (by security info on the C3, by the magic register on the ESP32, with
--chip auto and named), the MAC and revision in eFuse, flash-id, write-, verify-, read- and
erase-flash through the stub and through the ROM alone."""

import random
import re

import esptool.cmds
import pytest
from esptool.util import FatalError
from helpers import expected_mac, ok, output, read_flash, run_esptool, start_sim, write_file

from flashjig.cli.sim import EMULATED_CHIPS
from flashjig.emulator.chips import CHIPS

ESP32_FAMILY = ("esp32c3", "esp32")
DESCRIPTIONS = {
    "esp32c3": "ESP32-C3 (QFN32) (revision v0.4)",
    "esp32": "ESP32-D0WD-V3 (revision v3.1)",
}


@pytest.fixture(scope="module", params=ESP32_FAMILY)
def chip_sim(request):
    """One module of the chip, waiting in download mode; its flash lives as long as the
    test file's tests of that chip."""
    for devices in start_sim("--chip", request.param, "--modules", "1", "--flash-size", "4MB"):
        yield request.param, devices["module1"]


@pytest.fixture(scope="module")
def payload():
    return random.Random(32).randbytes(300_000)


@pytest.mark.parametrize("named", [False, True], ids=["auto", "named"])
def test_chip_is_detected_with_its_mac_and_revision(chip_sim, named):
    chip, device = chip_sim
    text = ok(run_esptool(device, "chip-id", chip=chip if named else "auto"))
    assert f"Chip type:          {DESCRIPTIONS[chip]}" in text
    assert "Crystal frequency:  40MHz" in text
    assert set(re.findall(r"MAC:\s+([0-9a-f:]{17})", text)) == {expected_mac("module1", chip)}
    assert "Stub flasher running." in text


def test_flash_id_reads_the_jedec_id(chip_sim):
    chip, device = chip_sim
    text = ok(run_esptool(device, "flash-id", chip=chip))
    assert "Manufacturer: ef" in text
    assert "Device: 4016" in text
    assert "Detected flash size: 4MB" in text


@pytest.mark.slow
def test_stub_write_verify_read_at_921600(chip_sim, payload, tmp_path):
    chip, device = chip_sim
    path = write_file(tmp_path, "payload.bin", payload)
    text = ok(run_esptool(device, "-b", "921600", "write-flash", "0x10000", str(path), chip=chip))
    assert "Hash of data verified." in text
    assert "Verification successful" in ok(
        run_esptool(device, "verify-flash", "0x10000", str(path), chip=chip)
    )
    assert read_flash(device, tmp_path, 0x10000, len(payload), chip=chip) == payload


@pytest.mark.slow
def test_rom_alone_writes_verifies_and_reads(chip_sim, payload, tmp_path):
    """Without the stub: the ROM's uncompressed writes, its MD5 in hex, its 64-byte reads;
    it erases exactly what is asked (the ESP8266 ROM's fudge is not there)."""
    chip, device = chip_sim
    before = read_flash(device, tmp_path, 0x3000, 0x1000, "--no-stub", chip=chip)
    part = payload[:40_000]
    path = write_file(tmp_path, "part.bin", part)
    ok(run_esptool(device, "--no-stub", "write-flash", "0x4000", str(path), chip=chip))
    assert "Verification successful" in ok(
        run_esptool(device, "--no-stub", "verify-flash", "0x4000", str(path), chip=chip)
    )
    assert read_flash(device, tmp_path, 0x4000, 5000, "--no-stub", chip=chip) == part[:5000]
    assert read_flash(device, tmp_path, 0x3000, 0x1000, "--no-stub", chip=chip) == before


def test_rom_refuses_what_only_the_stub_does(chip_sim):
    """Asked straight (esptool itself would not send it), the ROM answers erase-flash with
    an invalid-command status in its four status bytes."""
    chip, device = chip_sim
    esp = esptool.cmds.detect_chip(device, 115200, "no-reset", 1)
    try:
        assert esp.CHIP_NAME == CHIPS[chip].rom.CHIP_NAME
        with pytest.raises(FatalError, match="result was 0105: The format of the received"):
            esp.check_command("erase flash", esp.ESP_CMDS["ERASE_FLASH"], timeout=2)
        # The ROM goes on answering afterwards.
        assert esp.read_reg(esp.UART_CLKDIV_REG) == round(40e6 / 115200)
    finally:
        esp._port.close()


@pytest.mark.slow
def test_erase_flash_leaves_it_blank(chip_sim, payload, tmp_path):
    chip, device = chip_sim
    path = write_file(tmp_path, "payload.bin", payload[:8192])
    ok(run_esptool(device, "write-flash", "0x20000", str(path), chip=chip))
    assert "erased successfully" in ok(run_esptool(device, "erase-flash", chip=chip))
    assert read_flash(device, tmp_path, 0x20000, 8192, chip=chip) == b"\xff" * 8192


def test_the_wrong_chip_named_is_refused(chip_sim):
    chip, device = chip_sim
    other = next(name for name in CHIPS if name != chip)
    result = run_esptool(device, "chip-id", chip=other)
    assert result.returncode != 0
    assert "This chip is " in output(result) or "Wrong" in output(result)


def test_sim_offers_every_emulated_chip():
    assert set(EMULATED_CHIPS) == set(CHIPS)
