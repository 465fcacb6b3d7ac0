"""gpiozero devices for the lines a station drives on an ESP8266 module.

GPIO0 and EN carry pull-ups on the ESP-01S. The station pulls a line low, or lets go and
the pull-up takes it high; it never drives it high against another driver. gpiozero has
no open-drain device, so this is one: output-low to assert, input to release.
"""

import time

from gpiozero import DigitalOutputDevice, GPIODevice
from gpiozero.pins import Factory

# The Pi's pull-down (about 50 kOhm) against the wire's few hundred pF: settled in
# microseconds, read after a millisecond.
READ_BACK_S = 0.001


class StrapLine(GPIODevice):
    """A strapping line (boot or EN) driven open-drain style; released on creation."""

    def __init__(self, pin: str, *, pin_factory: Factory | None = None) -> None:
        super().__init__(pin, pin_factory=pin_factory)
        self.release()

    def assert_low(self) -> None:
        self.pin.output_with_state(False)

    def release(self) -> None:
        # The Pi's own pull-up (about 50 kOhm) sits in parallel with the module's.
        self.pin.input_with_pull("up")

    def held_up_by_module(self) -> bool:
        """Released against the Pi's pull-down instead: does the line still read high? A
        seated, powered module's 10 kOhm pull-up holds it at about 2.7 V (through the
        1 kOhm in series); with no module, an unpowered one or a broken wire, it reads
        low. Released with the pull-up again afterwards."""
        self.pin.input_with_pull("down")
        try:
            time.sleep(READ_BACK_S)
            return bool(self.pin.state)
        finally:
            self.release()


def power_switch(
    pin: str | None, *, active_low: bool, pin_factory: Factory | None = None
) -> DigitalOutputDevice | None:
    """A socket's power switch, or None when the socket has none. Claimed off: the level
    "off" means (high when ``active_low``) is given with the claim, so that a factory that
    can claim an output at a level (``flashjig.hardware.lgpio_pins``) never shows the switch
    on, not even between claiming the pin and writing it."""
    if pin is None:
        return None
    return DigitalOutputDevice(
        pin, active_high=not active_low, initial_value=False, pin_factory=pin_factory
    )
