"""Strapping sequences on mock pins: the reset a flash starts with counts a hold that is
already under way."""

import time

import pytest
from gpiozero.pins.mock import MockFactory

from flashjig.emulator.module import StrapPin
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


def test_en_goes_low_before_gpio0_as_in_esptools_reset():
    """A running module is stopped before its GPIO0 is pulled; GPIO0 is low when EN rises."""
    factory = MockFactory(pin_class=StrapPin)  # the module's pull-ups, and listeners
    order: list[tuple[str, bool]] = []
    for name, pin in (("gpio0", "GPIO4"), ("en", "GPIO5")):
        factory.pin(pin).listeners.append(lambda _, high, name=name: order.append((name, high)))
    lines = ModuleLines(
        StrapLine("GPIO4", pin_factory=factory), StrapLine("GPIO5", pin_factory=factory)
    )
    order.clear()  # claiming the lines released them: not part of the reset
    lines.enter_bootloader()
    lows = [name for name, high in order if not high]
    assert lows[:2] == ["en", "gpio0"], order
    rise = order.index(("en", True))
    assert ("gpio0", False) in order[:rise] and ("gpio0", True) in order[rise:], order
    lines.close()


def test_gpio0_read_back_sees_a_seated_powered_module(station_config):
    """Against the Pi's pull-down, only a powered module's pull-up holds GPIO0 high."""
    from flashjig.hardware.socket_lines import SocketLines
    from flashjig.simulation.hardware import SimulatedHardware

    with SimulatedHardware(station_config, insert_all=False) as hw:
        lines = SocketLines.build(station_config.socket("socket1"), pin_factory=hw.pin_factory)
        gpio0 = hw.pin_factory.pin(station_config.socket("socket1").boot)
        assert not lines.straps.module_on_boot_line()  # empty socket
        hw.insert("socket1")
        assert not lines.straps.module_on_boot_line()  # seated, its power still off
        lines.power_on(settle=False)
        assert lines.straps.module_on_boot_line()
        assert gpio0.state is True and gpio0.pull == "up"  # released as before
        lines.close()


def test_later_connect_attempts_hold_the_boot_line_longer():
    """esptool escalates its reset delay (0.05 s, then 0.55 s) for boards whose EN rises
    slowly through its RC: each later attempt holds the boot line at least as long, and the
    second one long enough for a slow EN."""
    from flashjig.hardware.strapping import BOOT_HOLDS_S, boot_hold

    factory = MockFactory(pin_class=StrapPin)  # listeners: when each line changes
    rises: list[tuple[str, float]] = []
    for name, pin in (("boot", "GPIO4"), ("en", "GPIO5")):
        factory.pin(pin).listeners.append(
            lambda _, high, name=name: rises.append((name, time.monotonic())) if high else None
        )
    lines = ModuleLines(
        StrapLine("GPIO4", pin_factory=factory), StrapLine("GPIO5", pin_factory=factory)
    )
    held = []
    for attempt in (1, 2, 3):
        rises.clear()
        lines.enter_bootloader(attempt)
        last = {name: t for name, t in rises}  # each line's last rise
        held.append(last["boot"] - last["en"])
    lines.close()
    assert BOOT_HOLDS_S == (0.05, 0.55)  # esptool's DEFAULT_RESET_DELAY, and 0.5 s more
    assert [boot_hold(a) for a in (1, 2, 3)] == [0.05, 0.55, 0.55]
    assert 0.05 <= held[0] < 0.15, held
    assert 0.55 <= held[1] < 0.65 and 0.55 <= held[2] < 0.65, held


@pytest.mark.parametrize(
    ("chip", "says", "never"),
    [
        # An ESP-01S pulls GPIO0 up on the module: low means no powered module there.
        ("esp8266", "no module's pull-up on the boot line: is a module seated and powered, "
         "is its boot pin (GPIO0) wired?", "shows nothing"),
        # The ESP32's GPIO0, the S3's and the C3's GPIO9 pull-ups are inside the chip, off
        # while EN holds it in reset: the low reading is no sign that the socket is empty.
        ("esp32", "shows nothing of the module: the pull-up on its boot pin (GPIO0 of an "
         "ESP32) is inside the chip and off while EN holds it in reset", "no module's pull-up"),
        ("esp32c3", "a C3 socket's own pull-up on GPIO9 (hw/README.md) reads low unpowered",
         "no module's pull-up"),
        ("esp32s3", "(GPIO0 of an ESP32-S3) is inside the chip", "no module's pull-up"),
        ("auto", "on an ESP-01S (ESP8266, its own pull-up on GPIO0) no module is there",
         "no module's pull-up"),
    ],
)  # fmt: skip
def test_why_silent_says_what_a_low_boot_line_shows_for_the_chip(chip, says, never):
    factory = MockFactory()  # nothing pulls the boot line up: it reads low
    lines = ModuleLines(
        StrapLine("GPIO4", pin_factory=factory), StrapLine("GPIO5", pin_factory=factory), chip
    )
    said = lines.why_silent()
    lines.close()
    assert says in said and never not in said, said
    assert "is a module seated and powered" in said


@pytest.mark.parametrize("chip", ["esp8266", "esp32c3"])
def test_why_silent_with_a_pull_up_on_the_boot_line(chip):
    factory = MockFactory(pin_class=StrapPin)
    factory.pin("GPIO4").set_module_pull_up(True)  # a seated, powered module's board
    lines = ModuleLines(
        StrapLine("GPIO4", pin_factory=factory), StrapLine("GPIO5", pin_factory=factory), chip
    )
    said = lines.why_silent()
    lines.close()
    assert said.endswith("is its serial line, or EN, wired?"), said
    if chip == "esp32c3":  # a board's pull-up (the socket's, perhaps): the chip's is off
        assert "the chip's own is off in reset" in said and "with no module too" in said


def test_a_sockets_lines_know_its_chip(station_config):
    import dataclasses

    from flashjig.hardware.socket_lines import SocketLines

    config = dataclasses.replace(station_config.socket("socket1"), chip="esp32c3")
    lines = SocketLines.build(config, pin_factory=MockFactory())
    assert lines.straps.chip == "esp32c3"
    lines.close()
