"""Did it boot? The boot check and the burn-in against emulated firmware on mock strapping
pins, and through the pipeline."""

import threading
import time

import pytest
from gpiozero.pins.mock import MockFactory
from helpers import build_path, flash_profile, with_profile

from flashjig.config import BootCheck, BurnIn
from flashjig.emulator import EmulatedModule, Faults, FlashChip
from flashjig.emulator.firmware import build_firmware
from flashjig.emulator.module import State, StrapPin
from flashjig.flashing.bootcheck import check_boot
from flashjig.flashing.result import Reason, Stage
from flashjig.hardware.pins import StrapLine
from flashjig.hardware.strapping import ModuleLines
from flashjig.simulation.hardware import ModuleSpec, SimulatedHardware


@pytest.fixture
def wired():
    """A module on mock strapping pins, the station's lines on the same pins."""
    factory = MockFactory()
    made = []

    def build(firmware: bytes | None, faults: Faults | None = None):
        gpio0 = factory.pin("GPIO4", pin_class=StrapPin)
        en = factory.pin("GPIO17", pin_class=StrapPin)
        chip = FlashChip(1 << 20)
        if firmware:
            chip.program(0, firmware)
        module = EmulatedModule("m", chip, boot=gpio0, en=en, faults=faults)
        lines = ModuleLines(
            StrapLine("GPIO4", pin_factory=factory), StrapLine("GPIO17", pin_factory=factory)
        )
        made.append((module, lines))
        return module, lines

    yield build
    for module, lines in made:
        lines.close()
        module.close()
        module.flash.close()
    factory.close()


READY = BootCheck(pattern=r"ready", timeout=2.0)


def test_boot_check_passes_on_the_firmware_banner(wired):
    module, lines = wired(build_firmware(0x20000))
    result = check_boot(module.device, 115200, reboot=lines.run_firmware, check=READY)
    assert result.ok, result.reason
    assert any("flashjig demo firmware" in line for line in result.lines)


@pytest.mark.slow
def test_boot_check_fails_on_a_silent_module(wired):
    module, lines = wired(None)  # erased flash: the ROM prints at 74880 and stops
    result = check_boot(module.device, 115200, reboot=lines.run_firmware, check=READY)
    assert not result.ok
    assert "within 2 s (expected /ready/)" in result.reason


@pytest.mark.slow
def test_boot_check_fails_on_the_wrong_banner(wired):
    module, lines = wired(build_firmware(0x20000, banner="\r\nPANIC\r\n"))
    result = check_boot(module.device, 115200, reboot=lines.run_firmware, check=READY)
    assert not result.ok and "no line matching it" in result.reason
    assert "PANIC" in result.log


@pytest.mark.slow
def test_burn_in_catches_a_module_that_resets(wired):
    module, lines = wired(build_firmware(0x20000), Faults(reset_after=1.0))
    result = check_boot(
        module.device, 115200, reboot=lines.run_firmware, check=READY, burn_in=BurnIn(seconds=3.0)
    )
    assert not result.ok and result.reason == "burn-in: the firmware restarted"


@pytest.mark.slow
def test_burn_in_passes_a_steady_module(wired):
    module, lines = wired(build_firmware(0x20000))
    result = check_boot(
        module.device, 115200, reboot=lines.run_firmware, check=READY, burn_in=BurnIn(seconds=1.5)
    )
    assert result.ok, result.reason


# -- through the pipeline -------------------------------------------------------------------


@pytest.mark.slow
def test_boot_check_passes_on_the_banner_and_fails_when_silent(make_config, tmp_path):
    check = BootCheck(pattern="ready", timeout=2)
    good = with_profile(make_config([(0, build_path(tmp_path))]), boot_check=check)
    with SimulatedHardware(good) as hw:
        result = flash_profile(good, hw)
        assert result.ok and "ready" in result.boot_log
        assert hw.modules["socket1"].state is State.APP
    silent = with_profile(
        make_config([(0, build_path(tmp_path, size=0x40000, banner=""))]), boot_check=check
    )
    with SimulatedHardware(silent) as hw:
        result = flash_profile(silent, hw)
        assert result.reason == Reason.DID_NOT_BOOT
        assert "within 2 s (expected /ready/)" in result.detail


@pytest.mark.slow
def test_burn_in_fails_a_module_that_resets(make_config, tmp_path):
    config = with_profile(
        make_config([(0, build_path(tmp_path))]),
        boot_check=BootCheck(pattern="ready", timeout=2),
        burn_in=BurnIn(seconds=3),
    )
    flaky = {"socket1": ModuleSpec(faults=Faults(reset_after=1.0))}
    with SimulatedHardware(config, modules=flaky) as hw:
        result = flash_profile(config, hw)
        assert result.reason == Reason.BURN_IN_FAILED
        assert result.detail == "burn-in: the firmware restarted"
        assert result.boot_log.count("ready") >= 2


@pytest.mark.slow
def test_a_long_press_cancels_a_boot_check(make_config, tmp_path):
    """Cancelled while it listens for a line that never comes: cancelled, not a 30 s wait."""
    check = BootCheck(pattern="never printed", timeout=30)
    config = with_profile(make_config([(0, build_path(tmp_path))]), boot_check=check)
    cancel = threading.Event()

    def progress(event):
        if event.stage is Stage.BOOTING:
            threading.Timer(0.3, cancel.set).start()

    with SimulatedHardware(config) as hw:
        started = time.monotonic()
        result = flash_profile(config, hw, cancel=cancel, on_progress=progress)
        assert result.reason == Reason.CANCELLED
        assert time.monotonic() - started < 15
