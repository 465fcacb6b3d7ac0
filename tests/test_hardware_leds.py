"""Status lights. A socket's light is changed by several threads at once (its worker, its
debounce and settle timers, the control socket) and must take that from any of them; and
the looks a station shows: amber when seated, a blink while flashing, green when done, red
or a fast blink on failure."""

import dataclasses
import statistics
import threading
import time

import pytest
from gpiozero.pins.mock import MockFactory
from helpers import state_of, wait_for

from flashjig.config import LedPins
from flashjig.emulator import Faults
from flashjig.hardware.leds import (
    FAILED_BLINK,
    FLASHING_BLINK,
    SINGLE_FLASHING_BLINK,
    Look,
    SocketLight,
)
from flashjig.simulation.hardware import ModuleSpec
from flashjig.simulation.station import simulated_station
from flashjig.station.status import SocketState, SocketStatus

STATES = list(SocketState)


@pytest.fixture
def thread_errors(monkeypatch):
    """Exceptions that escape any thread, gpiozero's blink threads included."""
    errors = []
    monkeypatch.setattr(
        threading, "excepthook", lambda args: errors.append(f"{args.thread.name}: {args.exc_value}")
    )
    return errors


@pytest.mark.parametrize(
    "pins",
    [LedPins(green="GPIO5"), LedPins(red="GPIO5", green="GPIO6")],
    ids=["single", "bicolour"],
)
def test_a_light_changed_from_several_threads_at_once_keeps_working(pins, thread_errors):
    factory = MockFactory()
    light = SocketLight(pins, pin_factory=factory)
    # The socket's status as the station's threads replace it (SocketStatus is frozen).
    status = [SocketStatus("socket1")]
    caller_errors = []

    def change(step: int) -> None:
        try:
            for i in range(1500):
                status[0] = dataclasses.replace(status[0], state=STATES[(i * step) % len(STATES)])
                light.follow(lambda: status[0].state.look)
        except Exception as e:  # noqa: BLE001 - what the test looks for
            caller_errors.append(repr(e))

    threads = [threading.Thread(target=change, args=(step,)) for step in (1, 2, 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a light change hung"
    assert caller_errors == [] and thread_errors == []
    # The last call shows the state the socket is in now.
    status[0] = dataclasses.replace(status[0], state=SocketState.OK)
    light.follow(lambda: status[0].state.look)
    green = factory.pin(pins.green)
    assert green.state is True
    if pins.red is not None:
        assert factory.pin(pins.red).state is False
    light.close()


@pytest.mark.slow
def test_led_patterns(rig):
    station, hw, _ = rig(line_rate=True, bicolour=True)
    leds = station.config.socket("socket1").led
    red, green = hw.pin_factory.pin(leds.red), hw.pin_factory.pin(leds.green)
    assert (red.state, green.state) == (False, False)  # empty: off
    hw.insert("socket1")
    wait_for(lambda: state_of(station, "socket1") is SocketState.INSERTED)
    wait_for(lambda: (red.state, green.state) == (True, True), what="amber")
    hw.press()
    wait_for(lambda: station.sockets["socket1"].status.stage == "writing", what="writing")
    green.clear_states()
    time.sleep(1.1)
    toggles = [s for s in green.states[1:]]
    assert len(toggles) >= 6, "green blinks while flashing"
    half = FLASHING_BLINK[0]
    assert all(abs(s.timestamp - half) < 0.06 for s in toggles[1:])
    assert red.state is False
    wait_for(lambda: state_of(station, "socket1") is SocketState.OK, timeout=60)
    wait_for(lambda: (red.state, green.state) == (False, True), what="solid green")


@pytest.mark.slow
def test_failed_socket_shows_red(rig):
    station, hw, _ = rig(retries=0, bicolour=True)
    hw.insert("socket4", ModuleSpec(faults=Faults(silent=True)))
    wait_for(lambda: state_of(station, "socket4") is SocketState.INSERTED)
    hw.press()
    wait_for(lambda: state_of(station, "socket4") is SocketState.FAILED, timeout=20)
    leds = station.config.socket("socket4").led
    red, green = hw.pin_factory.pin(leds.red), hw.pin_factory.pin(leds.green)
    # The LEDs follow the state from the socket's listener: a moment after it, on a busy
    # machine (seen: still green when the state was read, under four test workers).
    wait_for(lambda: (red.state, green.state) == (True, False), timeout=2, what="solid red")


@pytest.mark.slow
def test_single_led_blinks_fast_on_failure(station_config, tmp_path):
    config = dataclasses.replace(  # the shipped sockets have one (green) LED
        station_config, station=dataclasses.replace(station_config.station, retries=0)
    )
    with simulated_station(config, tmp_path) as (station, hw, _):
        hw.insert("socket1", ModuleSpec(faults=Faults(silent=True)))
        wait_for(lambda: state_of(station, "socket1") is SocketState.INSERTED)
        hw.press()
        wait_for(lambda: state_of(station, "socket1") is SocketState.FAILED, timeout=20)
        # The light follows the state a moment after it (its listener): from its new look on.
        light = station.sockets["socket1"].lines.light
        wait_for(lambda: light.look is Look.BAD, timeout=2, what="the failed look")
        red = hw.pin_factory.pin(config.socket("socket1").led.green)
        red.clear_states()
        time.sleep(0.7)
        toggles = [s.timestamp for s in red.states[1:]][1:]
        assert len(toggles) >= 4, toggles
        # Fast, every time (a busy machine's thread may wake late once: the median holds).
        assert abs(statistics.median(toggles) - FAILED_BLINK[0]) < 0.03, toggles
        assert max(toggles) < SINGLE_FLASHING_BLINK[0] / 2, toggles
