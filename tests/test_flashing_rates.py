"""The fast start (flashing.rates, FlashJob.fast): an ESP8266 synced and given its stub at
460800, an ESP32-family ROM changing rate before the stub, and every way it falls back
within the attempt, against emulated ROMs and adapters modelled from the published figures
(flashjig.emulator.uart). A module that flashes today must still flash, in one attempt."""

import yaml
from conftest import SHIPPED
from helpers import on_native_usb, run_job

from flashjig.config import load_config
from flashjig.emulator import Faults
from flashjig.emulator.firmware import build_esp32_firmware
from flashjig.flashing import esptool_internals
from flashjig.flashing.rates import FAST_SYNC_BAUD, ROM_BAUD, FastConnect, RateStep, rate_below
from flashjig.simulation.hardware import ModuleSpec, SimulatedHardware

FAST = FastConnect()
WRITE = 921600  # the shipped profile's rate


def flashed(config, spec: ModuleSpec, **job):
    """One attempt, fast, on socket1 holding ``spec``: the result, checked ok."""
    with SimulatedHardware(config, modules={"socket1": spec}) as hw:
        result, _ = run_job(config, hw, "socket1", fast=FAST, **job)
    assert result.ok, (result.reason, result.detail)
    return result


def rates(result) -> tuple[int, int, int, RateStep]:
    return result.sync_baud, result.stub_baud, result.baud, result.rate_fallback


def test_an_esp8266_is_synced_and_given_its_stub_at_460800(station_config):
    assert rates(flashed(station_config, ModuleSpec())) == (
        FAST_SYNC_BAUD,
        FAST_SYNC_BAUD,
        WRITE,
        RateStep.NONE,
    )


def test_without_fast_it_starts_as_esptool_does(station_config):
    with SimulatedHardware(station_config, modules={"socket1": ModuleSpec()}) as hw:
        result, _ = run_job(station_config, hw, "socket1")
    assert result.ok and rates(result) == (ROM_BAUD, ROM_BAUD, WRITE, RateStep.NONE)


def test_a_rom_that_auto_bauds_only_to_115200_is_synced_there_in_the_same_attempt(
    station_config,
):
    result = flashed(station_config, ModuleSpec(autobaud_max=ROM_BAUD))
    assert rates(result) == (ROM_BAUD, ROM_BAUD, WRITE, RateStep.SYNC)


def test_a_rom_that_locks_a_wrong_rate_until_reset_is_strapped_again(station_config):
    """Bytes above its range lock it at a wrong rate (emulator: autobaud_sticky): only a
    reset frees it, so the fallback straps it again."""
    spec = ModuleSpec(autobaud_max=ROM_BAUD, autobaud_sticky=True)
    assert rates(flashed(station_config, spec))[3] is RateStep.SYNC


def test_a_rom_that_answers_every_other_sync_is_synced_fast(station_config):
    spec = ModuleSpec(faults=Faults(sync_every_other=True))
    assert rates(flashed(station_config, spec)) == (
        FAST_SYNC_BAUD,
        FAST_SYNC_BAUD,
        WRITE,
        RateStep.NONE,
    )


def test_an_adapter_that_does_not_hold_the_write_rate_writes_one_rate_lower(station_config):
    """Its stub's change to 921600 garbles the line (emulator: adapter_max_baud): the
    attempt starts again and writes at 460800, not failing first as esptool's way would."""
    result = flashed(station_config, ModuleSpec(adapter_max_baud=460800))
    assert rates(result) == (ROM_BAUD, ROM_BAUD, rate_below(WRITE), RateStep.STUB_CHANGE)
    assert rate_below(WRITE) == 460800


def test_an_unknown_esp8266_stub_is_not_synced_fast(station_config, monkeypatch):
    """Another esptool's stub may not take its new rate relative to 115200: the ESP8266 is
    then synced at 115200, as esptool does."""
    monkeypatch.setattr(esptool_internals, "ESP8266_STUB_SHA256", "0" * 64)
    result = flashed(station_config, ModuleSpec())
    assert rates(result) == (ROM_BAUD, ROM_BAUD, WRITE, RateStep.NONE)


# -- the ESP32 family over a UART ----------------------------------------------------------


def esp32_config(tmp_path, chip: str, *, native: bool = False):
    """The shipped config with one profile of ``chip`` images, every socket holding one;
    with ``native``, socket1 on the chip's own USB port."""
    data = yaml.safe_load(SHIPPED.read_text())
    folder = tmp_path / chip
    folder.mkdir()
    images = []
    for offset, content in build_esp32_firmware(chip).items():
        path = folder / f"{offset:x}.bin"
        path.write_bytes(content)
        images.append({"offset": offset, "file": str(path)})
    settings = data["profiles"][data["active_profile"]]
    settings["images"] = {chip: images}
    settings.update(flash_mode="keep", flash_freq="keep", flash_size="keep")
    for other in data["sockets"]:
        other["chip"] = chip
    if native:
        on_native_usb(data["sockets"][0])
    path = tmp_path / "flashjig.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_config(path)


def test_esp32_family_roms_change_rate_before_the_stub(tmp_path):
    """Synced at 115200 (an ESP32-family ROM changes rate itself), the stub goes up at the
    write rate. The ESP32's ROM judges rates by its RTC clock: esptool's correction for it
    is what lands it (emulator: rom_xtal_error)."""
    for chip, spec in (
        ("esp32", ModuleSpec(rom_xtal_error=0.03)),
        ("esp32c3", ModuleSpec()),
        ("esp32s3", ModuleSpec()),
    ):
        folder = tmp_path / f"{chip}-config"
        folder.mkdir()
        result = flashed(esp32_config(folder, chip), spec)
        assert rates(result) == (ROM_BAUD, WRITE, WRITE, RateStep.NONE), chip


def test_a_stub_that_goes_back_to_115200_falls_back_to_esptools_way(tmp_path):
    spec = ModuleSpec(faults=Faults(stub_uart_115200=True))
    result = flashed(esp32_config(tmp_path, "esp32c3"), spec)
    assert rates(result) == (ROM_BAUD, ROM_BAUD, WRITE, RateStep.ROM_CHANGE)


def test_a_c3_on_native_usb_has_no_rate_to_raise(tmp_path):
    config = esp32_config(tmp_path, "esp32c3", native=True)
    result = flashed(config, ModuleSpec(boot_held=True))
    assert result.rate_fallback is RateStep.NONE and result.sync_baud == ROM_BAUD
