"""The emulated serial line's rates, through esptool's own API: the ROM's auto-baud range
(non-sticky and sticky), the adapter's highest rate, a ROM that misses every other SYNC,
CHANGE_BAUDRATE as each stub and ROM computes it, a stub that forgets the ROM's new rate,
and the wire time of a stub upload at the rate in force."""

import struct
import time

import esptool.cmds
import esptool.loader
import pytest
from esptool.loader import ESPLoader
from esptool.targets.esp8266 import ESP8266ROM
from esptool.util import FatalError
from gpiozero.pins.mock import MockFactory

from flashjig.emulator.chips import CHIPS, ESP32, ESP8266
from flashjig.emulator.faults import FAULT_NAMES, Faults, named_fault
from flashjig.emulator.flashchip import FlashChip
from flashjig.emulator.loader import stubs_for
from flashjig.emulator.module import EmulatedModule, StrapPin
from flashjig.flashing.esptool_internals import stub_change_baud

CHIP_MAGIC_ADDR = 0x40001000


@pytest.fixture
def make_module():
    """Standalone modules (waiting in download mode) with any of the module's options."""
    made = []

    def make(**options) -> EmulatedModule:
        module = EmulatedModule("baud", FlashChip(1 << 22), **options)
        made.append(module)
        return module

    yield make
    for module in made:
        module.close()
        module.flash.close()


@pytest.fixture
def strapped_module():
    """A module on mock boot and EN pins, held in download mode by the boot strap: an EN
    pulse resets it into the ROM loader again."""
    factory = MockFactory()
    made = []

    def make(**options):
        gpio0 = factory.pin("GPIO4", pin_class=StrapPin)
        en = factory.pin("GPIO17", pin_class=StrapPin)
        gpio0.output_with_state(False)
        en.output_with_state(False)
        module = EmulatedModule("strapped", FlashChip(1 << 20), boot=gpio0, en=en, **options)
        made.append(module)
        en.input_with_pull("up")
        return module, en

    yield make
    for module in made:
        module.close()
        module.flash.close()
    factory.close()


def connect(module: EmulatedModule, baud: int) -> ESPLoader:
    """esptool's detection at ``baud``, one attempt (five SYNCs), no reset."""
    return esptool.cmds.detect_chip(
        module.device, baud, connect_mode="no-reset", connect_attempts=1
    )


def answers(esp: ESPLoader) -> bool:
    try:
        esp.read_reg(CHIP_MAGIC_ADDR, timeout=0.5)
    except FatalError:
        return False
    return True


def pulse_en(en) -> None:
    en.output_with_state(False)
    en.input_with_pull("up")


# -- the ROM's auto-baud range ---------------------------------------------------------


def test_rom_syncs_at_460800(make_module):
    with connect(make_module(), 460800) as esp:
        assert isinstance(esp, ESP8266ROM)
        assert answers(esp)


def test_rom_does_not_sync_above_its_range(make_module):
    with pytest.raises(FatalError):
        connect(make_module(), 921600)


def test_rom_with_a_wider_range_syncs_at_921600(make_module):
    with connect(make_module(autobaud_max=921600), 921600) as esp:
        assert answers(esp)


def test_non_sticky_rom_syncs_at_115200_after_a_failed_high_sync(make_module):
    module = make_module()
    with pytest.raises(FatalError):
        connect(module, 921600)
    with connect(module, 115200) as esp:  # no reset between
        assert answers(esp)


def test_sticky_rom_needs_a_reset_after_a_failed_high_sync(strapped_module):
    module, en = strapped_module(autobaud_sticky=True)
    with pytest.raises(FatalError):
        connect(module, 921600)
    assert module.baud() == round(921600 * 0.93)  # the wrong rate it locked
    with pytest.raises(FatalError):
        connect(module, 115200)
    pulse_en(en)
    with connect(module, 115200) as esp:
        assert answers(esp)


def test_esp32_family_roms_have_the_same_range(make_module):
    with pytest.raises(FatalError):
        connect(make_module(chip=ESP32), 921600)


def test_rom_lock_keeps_the_nearest_divider(make_module):
    module = make_module()
    with connect(module, 460800) as esp:
        # 52 MHz / 460800 = 112.8: the ROM keeps 113, 460177 baud; the host's 460800 is 0.1 %
        # off, within what a UART frames.
        assert esp.read_reg(ESP8266ROM.UART_CLKDIV_REG) == 113
        assert module.baud() == round(52e6 / 113)


# -- the adapter -----------------------------------------------------------------------


def test_adapter_garbles_above_its_highest_rate(make_module):
    module = make_module(adapter_max_baud=460800)
    with connect(module, 115200) as esp:
        stub = esptool.cmds.run_stub(esp)
        stub.change_baud(460800)
        assert answers(stub)
        stub.change_baud(921600)  # the stub's reply comes at 460800, then the line is noise
        assert not answers(stub)


# -- a ROM that misses every other SYNC -------------------------------------------------


def test_sync_every_other_answers_the_second_sync(make_module):
    module = make_module(faults=Faults(sync_every_other=True))
    with ESPLoader(module.device, 115200) as esp:

        def sync() -> None:
            esp.flush_input()  # as esptool's connect does before each (a timeout ends it)
            esp.sync()

        with pytest.raises(FatalError):
            sync()
        sync()
        with pytest.raises(FatalError):  # the third is missed again, the fourth answered
            sync()
        sync()


def test_named_faults_for_ctl_insert_and_the_soak():
    assert {"sync-every-other", "stub-uart-115200"} <= set(FAULT_NAMES)
    assert named_fault("sync-every-other") == Faults(sync_every_other=True)
    assert named_fault("stub-uart-115200") == Faults(stub_uart_115200=True)


# -- CHANGE_BAUDRATE as each party computes it ------------------------------------------


def test_esp8266_v2_stub_assumes_a_115200_sync(make_module):
    with connect(make_module(), 460800) as esp:
        stub = esptool.cmds.run_stub(esp)
        stub.change_baud(921600)  # the divider scaled by 115200 / 921600: about 3.7 Mbaud
        assert not answers(stub)


def test_esp8266_v2_stub_compensated_lands_on_the_rate(make_module):
    with connect(make_module(), 460800) as esp:
        stub = esptool.cmds.run_stub(esp)
        # The station's own change: first word 921600 * 115200 // 460800.
        stub_change_baud(stub, 921600, 460800, from_115200=True)
        assert answers(stub)
        assert stub.read_reg(ESP8266ROM.UART_CLKDIV_REG) == 56  # 52 MHz / 921600, rounded


def test_esp8266_v2_stub_synced_at_115200_lands_on_the_rate(make_module):
    """Today's path: sync at 115200, then esptool's plain change_baud."""
    with connect(make_module(), 115200) as esp:
        stub = esptool.cmds.run_stub(esp)
        stub.change_baud(921600)
        assert answers(stub)


def test_legacy_stub_scales_by_the_old_rate(make_module, monkeypatch):
    monkeypatch.setattr(esptool.loader.StubFlasher, "STUB_SUBDIRS", ["1", "2"])
    module = make_module()
    with connect(module, 460800) as esp:
        stub = esptool.cmds.run_stub(esp)
        assert module.loader.stub.version == 1
        stub.change_baud(921600)  # the old rate it is sent, 460800, scales it right
        assert answers(stub)


@pytest.mark.parametrize("chip", ["esp32", "esp32c3", "esp32s3"])
def test_esp32_family_v2_stub_sets_the_rate_asked(make_module, chip):
    with connect(make_module(chip=CHIPS[chip]), 460800) as esp:
        stub = esptool.cmds.run_stub(esp)
        stub.change_baud(921600)
        assert answers(stub)


def test_esp32_rom_change_baud_with_esptools_correction(make_module):
    module = make_module(chip=ESP32, rom_xtal_error=0.03)
    with connect(module, 115200) as esp:
        assert esp.get_rom_cal_crystal_freq() > 41e6  # the ROM's drifted estimate
        esp.change_baud(921600)  # ESP32ROM.change_baud: corrected for the estimate
        assert answers(esp)
        assert abs(module.baud() - 921600) < 921600 * 0.001


def test_esp32_rom_change_baud_without_the_correction_garbles(make_module):
    module = make_module(chip=ESP32, rom_xtal_error=0.03)
    with connect(module, 115200) as esp:
        ESPLoader.change_baud(esp, 921600)  # the generic call: the rate as it is, then 0
        assert not answers(esp)
        assert abs(module.baud() - 921600) > 921600 * 0.02


@pytest.mark.parametrize("chip", ["esp32c3", "esp32s3"])
def test_c3_s3_rom_sets_the_rate_asked(make_module, chip):
    module = make_module(chip=CHIPS[chip])
    with connect(module, 115200) as esp:
        esp.change_baud(921600)
        assert answers(esp)
        assert module.baud() == 921600


def test_esp8266_rom_refuses_change_baudrate(make_module):
    with connect(make_module(), 115200) as esp, pytest.raises(FatalError):
        esp.check_command(
            "change baud", esp.ESP_CMDS["CHANGE_BAUDRATE"], struct.pack("<II", 921600, 0)
        )


# -- the stub keeps (or loses) the ROM's new rate ---------------------------------------


def test_stub_keeps_the_roms_new_rate(make_module):
    with connect(make_module(chip=ESP32), 115200) as esp:
        esp.change_baud(921600)
        stub = esptool.cmds.run_stub(esp)  # uploaded, and greeting, at 921600
        assert answers(stub)


def test_stub_uart_115200_loses_the_roms_new_rate(make_module):
    module = make_module(chip=ESP32, faults=Faults(stub_uart_115200=True))
    with connect(module, 115200) as esp:
        esp.change_baud(921600)
        with pytest.raises(FatalError):
            esptool.cmds.run_stub(esp)  # OHAI comes at 115200
        assert module.baud() == 115200


# -- wire time -------------------------------------------------------------------------


def test_stub_upload_at_460800_takes_its_wire_time(make_module):
    stub = next(s for s in stubs_for(ESP8266).values() if s.version == 2)
    payload = stub.text + stub.data
    assert len(payload) == 12_376  # esptool 5.6's 2/esp8266.json: text 11,456 + data 920
    wire = len(payload) + payload.count(0xC0) + payload.count(0xDB)  # SLIP's escapes too
    with connect(make_module(line_rate=True), 460800) as esp:
        start = time.monotonic()
        esptool.cmds.run_stub(esp)
        took = time.monotonic() - start
    expected = wire * 10 / 460800  # 0.275 s; at 115200 it would be four times that
    assert expected * 0.85 <= took <= expected * 1.15, took
