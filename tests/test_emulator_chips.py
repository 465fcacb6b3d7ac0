"""The emulated ESP32, ESP32-C3 and ESP32-S3 through the unchanged esptool CLI against `flashjig sim
--chip`: detection (by security info on the C3, by the magic register on the ESP32, with
--chip auto and named), the MAC and revision in eFuse, flash-id, write-, verify-, read- and
erase-flash through the stub and through the ROM alone; strapping and boot through mock
pins, an IDF-like build booting through its partition table, and builds that must not."""

import random
import re

import esptool.cmds
import pytest
from esptool.util import FatalError
from gpiozero.pins.mock import MockFactory
from helpers import expected_mac, ok, output, read_flash, run_esptool, start_sim, write_file

from flashjig.cli.sim import EMULATED_CHIPS
from flashjig.emulator.chips import CHIPS
from flashjig.emulator.firmware import build_esp32_firmware
from flashjig.emulator.flashchip import FlashChip
from flashjig.emulator.module import EmulatedModule, State, StrapPin

ESP32_FAMILY = ("esp32c3", "esp32", "esp32s3")
DESCRIPTIONS = {
    "esp32c3": "ESP32-C3 (QFN32) (revision v0.4)",
    "esp32": "ESP32-D0WD-V3 (revision v3.1)",
    "esp32s3": "ESP32-S3 (QFN56) (revision v0.2)",
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
    with esptool.cmds.detect_chip(device, 115200, "no-reset", 1) as esp:  # closes its port
        assert esp.CHIP_NAME == CHIPS[chip].rom.CHIP_NAME
        with pytest.raises(FatalError, match="result was 0105: The format of the received"):
            esp.check_command("erase flash", esp.ESP_CMDS["ERASE_FLASH"], timeout=2)
        # The ROM goes on answering afterwards.
        assert esp.read_reg(esp.UART_CLKDIV_REG) == round(40e6 / 115200)


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


# -- strapping and boot of an ESP32 and an ESP32-C3 -----------------------------------------


@pytest.fixture
def strapped_chip(request):
    """A module of the chip on mock boot/EN pins, EN low (in reset)."""
    chip = CHIPS[request.param]
    factory = MockFactory()
    boot = factory.pin("GPIO4", pin_class=StrapPin)
    en = factory.pin("GPIO17", pin_class=StrapPin)
    en.output_with_state(False)
    flash = FlashChip(4 << 20)
    module = EmulatedModule("strapped", flash, chip=chip, boot=boot, en=en)
    yield module, boot, en
    module.close()
    flash.close()
    factory.close()


def reset(module, boot, en, *, download: bool):
    if download:
        boot.output_with_state(False)
    else:
        boot.input_with_pull("up")
    en.output_with_state(False)
    module.output.clear()
    en.input_with_pull("up")


def printed(module) -> str:
    return b"".join(module.output).decode()


def program(module, files: dict[int, bytes]) -> None:
    for offset, data in files.items():
        module.flash.program(offset, data)


BOOT_LOGS = {
    "esp32c3": ("boot:0x5 (DOWNLOAD(USB/UART0/1))", "boot:0xc (SPI_FAST_FLASH_BOOT)"),
    "esp32": ("boot:0x3 (DOWNLOAD_BOOT", "boot:0x13 (SPI_FAST_FLASH_BOOT)"),
    "esp32s3": ("boot:0x0 (DOWNLOAD(USB/UART0))", "boot:0x8 (SPI_FAST_FLASH_BOOT)"),
}


@pytest.mark.parametrize("strapped_chip", ESP32_FAMILY, indirect=True)
def test_boot_strap_low_as_en_rises_enters_download(strapped_chip):
    module, boot, en = strapped_chip
    reset(module, boot, en, download=True)
    assert module.state is State.DOWNLOAD
    download, _ = BOOT_LOGS[module.chip.name]
    assert download in printed(module)
    assert "waiting for download" in printed(module)


@pytest.mark.parametrize("strapped_chip", ESP32_FAMILY, indirect=True)
def test_blank_flash_does_not_boot(strapped_chip):
    module, boot, en = strapped_chip
    reset(module, boot, en, download=False)
    assert module.state is State.HUNG
    assert BOOT_LOGS[module.chip.name][1] in printed(module)
    assert module.chip.no_image_log in printed(module)


@pytest.mark.parametrize("strapped_chip", ESP32_FAMILY, indirect=True)
def test_an_idf_build_boots_through_its_partition_table(strapped_chip):
    module, boot, en = strapped_chip
    program(module, build_esp32_firmware(module.chip.name, banner="\r\nhello c3\r\n"))
    reset(module, boot, en, download=False)
    assert module.state is State.APP
    text = printed(module)
    assert "Loaded app from partition at offset 0x10000" in text
    assert text.endswith("\r\nhello c3\r\n")


@pytest.mark.parametrize("strapped_chip", ESP32_FAMILY, indirect=True)
def test_a_build_for_the_other_chip_does_not_boot(strapped_chip):
    """An ESP32 bootloader on a C3 (chip id 0 at 0x1000, nothing at 0x0) and a C3's on an
    ESP32 (chip id 5 at 0x0, nothing at 0x1000) both leave it at the ROM."""
    module, boot, en = strapped_chip
    other = "esp32" if module.chip.name == "esp32c3" else "esp32c3"
    program(module, build_esp32_firmware(other))
    reset(module, boot, en, download=False)
    assert module.state is State.HUNG


@pytest.mark.parametrize("strapped_chip", ["esp32c3"], indirect=True)
def test_a_corrupt_app_does_not_boot(strapped_chip):
    module, boot, en = strapped_chip
    files = build_esp32_firmware("esp32c3")
    app = bytearray(files[0x10000])
    app[0x2000] ^= 0x01  # one bit inside the IRAM segment
    files[0x10000] = bytes(app)
    program(module, files)
    reset(module, boot, en, download=False)
    assert module.state is State.HUNG
    assert "checksum failure" in printed(module)


def test_an_s3_with_16_mb_says_so():
    for devices in start_sim("--chip", "esp32s3", "--flash-size", "16MB"):
        text = ok(run_esptool(devices["module1"], "flash-id", chip="esp32s3"))
        assert "Device: 4018" in text and "Detected flash size: 16MB" in text
