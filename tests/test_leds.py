"""A socket's light is changed by several threads at once (its worker, its debounce and
settle timers, the control socket); the light must take that from any of them."""

import threading

import pytest
from gpiozero.pins.mock import MockFactory

from flashjig.config import LedPins
from flashjig.hardware.leds import SocketLight
from flashjig.station.socket import SocketState, SocketStatus

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
    status = SocketStatus("socket1")
    caller_errors = []

    def change(step: int) -> None:
        try:
            for i in range(1500):
                status.state = STATES[(i * step) % len(STATES)]
                light.follow(lambda: status.state.look)
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
    status.state = SocketState.OK
    light.follow(lambda: status.state.look)
    green = factory.pin(pins.green)
    assert green.state is True
    if pins.red is not None:
        assert factory.pin(pins.red).state is False
    light.close()
