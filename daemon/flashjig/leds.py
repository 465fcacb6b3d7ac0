"""Per-socket status lights and the station's "alive" light, as gpiozero LEDs.

A socket's light has one, two (bi-colour red/green) or three (RGB) LEDs. Patterns:

| state    | bi-colour or RGB            | single LED                    |
| -------- | --------------------------- | ----------------------------- |
| empty    | off                         | off                           |
| inserted | amber (red + green), steady | short blink every 2 s         |
| flashing | green, blinking 4 Hz        | slow blink, 1 Hz              |
| ok       | green, steady               | steady                        |
| failed   | red, steady                 | fast blink 5 Hz               |

The station light beats once a second while the daemon is healthy.

Every socket thread (its worker, its debounce and settle timers, the control socket, MQTT
commands) changes the light, and gpiozero's ``blink``/``on``/``off`` are not safe from two
threads at once (one stops the other's blink thread before it has started: "cannot join
thread before it is started", or a blink thread is left that nobody stops), so each light
takes its changes one at a time.
"""

import threading

from gpiozero import LED

from flashjig.config import LedPins
from flashjig.socket import SocketState, SocketStatus

FLASHING_BLINK = (0.125, 0.125)
SINGLE_FLASHING_BLINK = (0.5, 0.5)  # a lone LED must not look like its failed strobe
INSERTED_BLINK = (0.1, 1.9)
FAILED_BLINK = (0.1, 0.1)
HEARTBEAT = (0.1, 0.9)


class SocketLight:
    """Shows a socket's state on whatever LEDs the socket has."""

    def __init__(self, pins: LedPins, *, pin_factory=None) -> None:
        self._leds = {
            colour: LED(pin, pin_factory=pin_factory)
            for colour, pin in (("red", pins.red), ("green", pins.green), ("blue", pins.blue))
            if pin is not None
        }
        self.state: SocketState | None = None
        self._lock = threading.Lock()

    def follow(self, status: SocketStatus) -> None:
        """Show the state the socket is in now. Called after every change by the thread
        that made it; reading the state under the lock makes the last call show the
        latest state, in whatever order the threads get here."""
        with self._lock:
            self._show(status.state)

    def _show(self, state: SocketState) -> None:
        if state is self.state or not self._leds:
            return
        self.state = state
        for led in self._leds.values():
            led.off()
        if len(self._leds) == 1:
            self._show_single(next(iter(self._leds.values())), state)
            return
        red, green = self._leds.get("red"), self._leds.get("green")
        if state is SocketState.INSERTED:
            for led in (red, green):
                if led is not None:
                    led.on()
        elif state is SocketState.FLASHING and green is not None:
            green.blink(*FLASHING_BLINK)
        elif state is SocketState.OK and green is not None:
            green.on()
        elif state is SocketState.FAILED and red is not None:
            red.on()

    @staticmethod
    def _show_single(led: LED, state: SocketState) -> None:
        if state is SocketState.INSERTED:
            led.blink(*INSERTED_BLINK)
        elif state is SocketState.FLASHING:
            led.blink(*SINGLE_FLASHING_BLINK)
        elif state is SocketState.OK:
            led.on()
        elif state is SocketState.FAILED:
            led.blink(*FAILED_BLINK)

    def close(self) -> None:
        with self._lock:
            for led in self._leds.values():
                led.close()


class AliveLight:
    """The station's heartbeat: beating while healthy, off otherwise."""

    def __init__(self, pin: str, *, pin_factory=None) -> None:
        self._led = LED(pin, pin_factory=pin_factory)
        self._beating = False
        self._lock = threading.Lock()

    def set_healthy(self, healthy: bool) -> None:
        with self._lock:
            if healthy and not self._beating:
                self._led.blink(*HEARTBEAT)
            elif not healthy and self._beating:
                self._led.off()
            self._beating = healthy

    def close(self) -> None:
        with self._lock:
            self._led.close()
