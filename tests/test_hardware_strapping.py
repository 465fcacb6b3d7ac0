"""Strapping sequences on mock pins: the reset a flash starts with counts a hold that is
already under way."""

import time

from gpiozero.pins.mock import MockFactory

from flashjig.hardware.pins import StrapLine
from flashjig.hardware.strapping import RESET_HOLD_S, ModuleLines


def test_the_reset_before_a_flash_counts_a_hold_under_way():
    factory = MockFactory()
    lines = ModuleLines(
        StrapLine("GPIO4", pin_factory=factory), StrapLine("GPIO5", pin_factory=factory)
    )
    en = factory.pin("GPIO5")
    lines.hold_in_reset()
    time.sleep(RESET_HOLD_S / 4)
    lines.enter_bootloader()
    assert en.states[-1].state is True and en.states[-1].timestamp >= RESET_HOLD_S  # full hold
    lines.hold_in_reset()
    time.sleep(2 * RESET_HOLD_S)
    lines.enter_bootloader()
    low = en.states[-1].timestamp
    assert 2 * RESET_HOLD_S <= low < 2.8 * RESET_HOLD_S  # released at once, no second hold
    lines.close()
