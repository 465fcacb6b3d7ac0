"""gpiozero's lgpio pins, with outputs claimed at the level they are to have.

gpiozero gives an output device its first level with ``Pin.output_with_state``, which
by default sets the function first and the state after it ("descendents may override this
in order to provide the smallest possible delay ... avoiding 'blips' in active-low
configurations": gpiozero 2.0.1, pins/__init__.py). ``LGPIOPin`` does not override it, and
its ``_set_function('output')`` calls ``lgpio.gpio_claim_output(handle, gpio)``, whose
``level`` defaults to 0 (lgpio.py: ``gpio_claim_output(handle, gpio, level=0, lFlags=0)``):
every output comes up low before its first state is written. On an active-low power
switch (``power_active_low: true``: a P-MOSFET gate driven straight from the pin) low is
*on*, so each socket was powered for the moment between the claim and the write at every
daemon start. Here the claim itself carries the level: the kernel's line request takes the
output value with the direction, so the line never shows another level in between.

Imported only where lgpio is (a Pi): ``flashjig.hardware.pi`` builds the header's factory
from this.
"""

from __future__ import annotations

from typing import Any

import lgpio
from gpiozero.pins.lgpio import LGPIOFactory, LGPIOPin


class LevelClaimPin(LGPIOPin):
    _callback: Any  # LGPIOPin's edge callback (gpiozero has no type hints)

    def output_with_state(self, state: bool | float) -> None:
        # What LGPIOPin._set_function('output') does, with the level given to the claim.
        if self._callback is not None:
            self._callback.cancel()
            self._callback = None
        lgpio.gpio_claim_output(self.factory._handle, self._number, int(bool(state)))


class LevelClaimFactory(LGPIOFactory):
    """``LGPIOFactory`` whose pins claim outputs at their first level."""

    def __init__(self, chip: int | None = None) -> None:
        super().__init__(chip=chip)
        self.pin_class = LevelClaimPin
