"""One emulated module: strapping and boot through gpiozero mock pins (reset, download
mode, firmware, a bad checksum), the boot log's baud, and a standalone module esptool
detects unless it is silent."""

import time

import esptool.cmds
import pytest
import serial
from esptool.targets.esp8266 import ESP8266ROM
from esptool.util import FatalError
from gpiozero.pins.mock import MockFactory

from flashjig.emulator.faults import Faults
from flashjig.emulator.firmware import build_firmware
from flashjig.emulator.flashchip import FlashChip
from flashjig.emulator.module import EmulatedModule, State, StrapPin

BANNER = b"flashjig demo firmware"


# -- strapping and boot ---------------------------------------------------------------------


@pytest.fixture
def factory():
    mock = MockFactory()
    yield mock
    mock.close()


@pytest.fixture
def strapped(factory):
    """A module on mock GPIO0/EN pins, both lines low (EN low holds it in reset)."""
    gpio0 = factory.pin("GPIO4", pin_class=StrapPin)
    en = factory.pin("GPIO17", pin_class=StrapPin)
    gpio0.output_with_state(False)
    en.output_with_state(False)
    flash = FlashChip(1 << 20)
    module = EmulatedModule("strapped", flash, boot=gpio0, en=en)
    yield module, flash, gpio0, en
    module.close()
    flash.close()


def release(pin):
    pin.input_with_pull("up")


def pull_low(pin):
    pin.output_with_state(False)


def printed(module) -> bytes:
    return b"".join(module.output)


def flash_boot(module, gpio0, en):
    """GPIO0 released (high), then a pulse on EN: the module boots from flash."""
    release(gpio0)
    pull_low(en)
    release(en)


def test_en_low_holds_reset(strapped):
    module, _flash, gpio0, en = strapped
    assert module.state is State.RESET
    release(gpio0)
    assert module.state is State.RESET  # GPIO0 alone does nothing while EN is low
    assert module.output == []
    release(en)
    pull_low(en)
    assert module.state is State.RESET


def test_gpio0_low_as_en_rises_enters_download(strapped):
    module, _flash, _gpio0, en = strapped
    release(en)
    assert module.state is State.DOWNLOAD
    assert b"boot mode:(1,6)" in printed(module)
    assert b"waiting for host" in printed(module)


def test_erased_flash_hangs(strapped):
    module, _flash, gpio0, en = strapped
    flash_boot(module, gpio0, en)
    assert module.state is State.HUNG
    assert b"boot mode:(3,6)" in printed(module)
    assert b"ets_main.c" in printed(module)


def test_firmware_in_flash_runs(strapped):
    module, flash, gpio0, en = strapped
    flash.erase_chip()
    flash.program(0, build_firmware())
    flash_boot(module, gpio0, en)
    assert module.state is State.APP
    assert BANNER in printed(module)
    assert b"csum err" not in printed(module)


def test_corrupt_segment_fails_checksum(strapped):
    module, flash, gpio0, en = strapped
    image = bytearray(build_firmware())
    image[0x20] ^= 0x01  # inside the first (IRAM) segment, which starts at 0x10
    flash.erase_chip()
    flash.program(0, bytes(image))
    flash_boot(module, gpio0, en)
    assert module.state is State.HUNG
    assert b"csum err" in printed(module)
    assert BANNER not in printed(module)


# -- what the host hears at 74880 and at 115200 ---------------------------------------------


def read_for(port: serial.Serial, seconds: float, until: bytes | None = None) -> bytes:
    deadline = time.monotonic() + seconds
    data = b""
    while time.monotonic() < deadline:
        data += port.read(port.in_waiting or 1)
        if until is not None and until in data:
            break
    return data


@pytest.mark.parametrize("baud", [74880, 115200])
def test_boot_log_readable_only_at_74880(strapped, baud):
    module, _flash, gpio0, en = strapped
    with serial.Serial(module.device, baud, timeout=0.05) as port:
        port.reset_input_buffer()
        flash_boot(module, gpio0, en)
        heard = read_for(port, 1.0 if baud == 74880 else 0.3, until=b"ets_main.c")
    assert module.state is State.HUNG
    assert heard, "the module printed nothing"
    if baud == 74880:
        assert b"boot mode:(3,6)" in heard
    else:
        assert b"boot mode" not in heard
        assert b"ets" not in heard


# -- a standalone module, and a silent one --------------------------------------------------


def test_standalone_module_answers_esptool(standalone):
    module = standalone()
    assert module.state is State.DOWNLOAD
    with esptool.cmds.detect_chip(  # the loader closes its port as the block ends
        module.device, 115200, connect_mode="no-reset", connect_attempts=1
    ) as esp:
        assert isinstance(esp, ESP8266ROM)
        assert bytes(esp.read_mac()) == module.mac


def test_silent_module_is_not_detected(standalone):
    module = standalone(Faults(silent=True))
    with pytest.raises(FatalError):
        esptool.cmds.detect_chip(module.device, 115200, connect_mode="no-reset", connect_attempts=1)


def test_a_pulled_modules_silence_stays_with_it(station_config):
    """Taking a module out silences it; the spec it was seated from seats the next one
    talking (pulling one used to set the spec's own faults silent: every later module
    seated from the same spec said nothing)."""
    from flashjig.simulation.hardware import ModuleSpec, SimulatedHardware

    spec = ModuleSpec()
    with SimulatedHardware(station_config, insert_all=False) as hw:
        first = hw.insert("socket1", spec)
        hw.remove("socket1")
        second = hw.insert("socket1", spec)
        assert first.faults.silent and not second.faults.silent
        assert not spec.faults.silent
