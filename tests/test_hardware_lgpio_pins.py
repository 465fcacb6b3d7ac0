"""Outputs on the Pi's lgpio pins are claimed at their first level: an active-low power
switch never shows "on" while the daemon starts (issue 26). lgpio is not on this machine
(no GPIO chip either): a stand-in module records each line's level as lgpio would set it,
``gpio_claim_output``'s ``level`` defaulting to 0 as in lgpio.py."""

import sys
import types

import pytest

from flashjig.hardware.pins import power_switch

PI4_REVISION = 0xC03111  # Raspberry Pi 4 B 4 GB: gpiozero's board info for the header


class FakeLgpio(types.ModuleType):
    """What gpiozero's LGPIOPin calls, with a history of levels per line."""

    SET_PULL_NONE, SET_PULL_UP, SET_PULL_DOWN = 0x80, 0x20, 0x40
    BOTH_EDGES, RISING_EDGE, FALLING_EDGE = 3, 1, 2

    class error(Exception):  # noqa: N801 - lgpio's name
        pass

    def __init__(self) -> None:
        super().__init__("lgpio")
        self.levels: dict[int, list[int | None]] = {}  # None: an input (not driven)
        self.out: set[int] = set()

    def gpiochip_open(self, chip: int) -> int:
        return 1

    def gpiochip_close(self, handle: int) -> None:
        pass

    def gpio_claim_input(self, handle: int, gpio: int, flags: int = 0) -> None:
        self.out.discard(gpio)
        self.levels.setdefault(gpio, []).append(None)

    def gpio_claim_output(self, handle: int, gpio: int, level: int = 0, flags: int = 0) -> None:
        self.out.add(gpio)
        self.levels.setdefault(gpio, []).append(level)

    def gpio_write(self, handle: int, gpio: int, level: int) -> None:
        assert gpio in self.out
        self.levels[gpio].append(int(level))

    def gpio_free(self, handle: int, gpio: int) -> None:
        pass

    def gpio_get_mode(self, handle: int, gpio: int) -> int:
        return 2 if gpio in self.out else 0  # LGPIOPin.GPIO_IS_OUT

    def gpio_read(self, handle: int, gpio: int) -> int:
        return next(v for v in reversed(self.levels[gpio]) if v is not None)


@pytest.fixture
def fake_lgpio(monkeypatch):
    fake = FakeLgpio()
    monkeypatch.setitem(sys.modules, "lgpio", fake)
    yield fake
    # Modules imported against the stand-in go with it: nothing else may find "lgpio".
    import gpiozero.pins

    for name in ("gpiozero.pins.lgpio", "flashjig.hardware.lgpio_pins"):
        sys.modules.pop(name, None)
    if hasattr(gpiozero.pins, "lgpio"):
        delattr(gpiozero.pins, "lgpio")


def on_a_pi4(factory_class):
    class Factory(factory_class):
        def _get_revision(self):
            return PI4_REVISION

    return Factory(chip=0)


def test_an_active_low_power_switch_is_never_on_from_its_claim(fake_lgpio):
    from gpiozero.pins.lgpio import LGPIOFactory

    from flashjig.hardware.lgpio_pins import LevelClaimFactory

    # gpiozero's own factory: claimed low (on), then written high (off). The glitch.
    plain = on_a_pi4(LGPIOFactory)
    switch = power_switch("GPIO16", active_low=True, pin_factory=plain)
    assert fake_lgpio.levels[16] == [None, 0, 1]
    switch.close()
    plain.close()
    fake_lgpio.levels.clear()

    # The header's factory: claimed high, so the socket stays unpowered until switched on.
    factory = on_a_pi4(LevelClaimFactory)
    switch = power_switch("GPIO16", active_low=True, pin_factory=factory)
    assert fake_lgpio.levels[16] == [None, 1] and not switch.value  # never 0 (on) before on()
    switch.on()
    assert fake_lgpio.levels[16] == [None, 1, 0]
    switch.close()
    # Active high (an NPN between pin and gate) is claimed low, as before.
    high = power_switch("GPIO20", active_low=False, pin_factory=factory)
    assert fake_lgpio.levels[20] == [None, 0]
    high.close()
    factory.close()
