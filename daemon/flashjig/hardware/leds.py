"""Status lights as gpiozero LEDs: a socket's light shows one of a few looks, and the
station's "alive" light beats while the daemon is healthy and strobes when it is in
trouble.

A socket's light has one, two (bi-colour red/green) or three (RGB) LEDs:

| look    | bi-colour or RGB            | single LED              |
| ------- | --------------------------- | ----------------------- |
| OFF     | off                         | off                     |
| WAITING | amber (red + green), steady | short blink every 2 s   |
| BUSY    | green, blinking 4 Hz        | slow blink, 1 Hz        |
| GOOD    | green, steady               | steady                  |
| BAD     | red, steady                 | fast blink 5 Hz         |

Which look stands for which socket state is the station's business (flashjig.station).

Every socket thread (its worker, its debounce and settle timers, the control socket, MQTT
commands) changes the light, and gpiozero's ``blink``/``on``/``off`` are not safe from two
threads at once (one stops the other's blink thread before it has started: "cannot join
thread before it is started", or a blink thread is left that nobody stops), so each light
takes its changes one at a time.
"""

import enum
import threading
from collections.abc import Callable

from gpiozero import LED
from gpiozero.pins import Factory

from flashjig.config import LedPins

FLASHING_BLINK = (0.125, 0.125)
SINGLE_FLASHING_BLINK = (0.5, 0.5)  # a lone LED must not look like its failed strobe
INSERTED_BLINK = (0.1, 1.9)
FAILED_BLINK = (0.1, 0.1)
HEARTBEAT = (0.1, 0.9)


class Look(enum.Enum):
    OFF = "off"
    WAITING = "waiting"
    BUSY = "busy"
    GOOD = "good"
    BAD = "bad"


class SocketLight:
    """Shows a look on whatever LEDs the socket has."""

    def __init__(self, pins: LedPins, *, pin_factory: Factory | None = None) -> None:
        self._leds: dict[str, LED] = {}
        self.look = Look.OFF
        self._lock = threading.Lock()
        try:
            for colour, pin in (("red", pins.red), ("green", pins.green), ("blue", pins.blue)):
                if pin is not None:
                    self._leds[colour] = LED(pin, pin_factory=pin_factory)
        except BaseException:
            self.close()
            raise

    def follow(self, look: Callable[[], Look]) -> None:
        """Show the look its owner is in now. Called after every change by the thread that
        made it; asking for the look under the lock makes the last call show the latest,
        in whatever order the threads get here."""
        with self._lock:
            self._show(look())

    def _show(self, look: Look) -> None:
        if look is self.look or not self._leds:
            return
        self.look = look
        for led in self._leds.values():
            led.off()
        if len(self._leds) == 1:
            self._show_single(next(iter(self._leds.values())), look)
            return
        red, green = self._leds.get("red"), self._leds.get("green")
        if look is Look.WAITING:
            for led in (red, green):
                if led is not None:
                    led.on()
        elif look is Look.BUSY and green is not None:
            green.blink(*FLASHING_BLINK)
        elif look is Look.GOOD and green is not None:
            green.on()
        elif look is Look.BAD and red is not None:
            red.on()

    @staticmethod
    def _show_single(led: LED, look: Look) -> None:
        if look is Look.WAITING:
            led.blink(*INSERTED_BLINK)
        elif look is Look.BUSY:
            led.blink(*SINGLE_FLASHING_BLINK)
        elif look is Look.GOOD:
            led.on()
        elif look is Look.BAD:
            led.blink(*FAILED_BLINK)

    def close(self) -> None:
        with self._lock:
            for led in self._leds.values():
                led.close()


class AliveLight:
    """The station's light: a heartbeat (GOOD), a strobe (BAD: the station is up but
    cannot do its work, such as a journal it cannot write), or dark (OFF)."""

    def __init__(self, pin: str, *, pin_factory: Factory | None = None) -> None:
        self._led = LED(pin, pin_factory=pin_factory)
        self.look = Look.OFF
        self._lock = threading.Lock()

    def show(self, look: Look) -> None:
        with self._lock:
            if look is self.look:
                return
            self.look = look
            if look is Look.GOOD:
                self._led.blink(*HEARTBEAT)
            elif look is Look.BAD:
                self._led.blink(*FAILED_BLINK)
            else:
                self._led.off()

    def close(self) -> None:
        with self._lock:
            self._led.close()
