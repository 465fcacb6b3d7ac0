"""A module's UART rate as it meets the host's: the ROM's auto-baud and its range, the
USB-serial adapter's highest reliable rate, and when two rates are close enough to talk.

The ROM loader measures the host's rate on the SYNC packet's run of 0x55 and keeps it
(rounded to its integer divider). How far up that works is the module's ``autobaud_max``:
esptool issue 44 found 460800 reliable, "mostly-reliably at similar speeds" above
(https://github.com/espressif/esptool/issues/44); Cesanta's "ESP8266 superfast flashing"
found 921600 unreliable, "looks like it picks a divider that is not quite right"
(https://pic-microcontroller.com/esp8266-superfast-flashing-flash-esp-5-seconds/). The
ESP32-family ROMs auto-baud the same way (esptool's serial protocol docs, "Initial
Synchronisation"), so they take the same property. Above the range a ROM hears noise, and
answers nothing; a sticky one (``autobaud_sticky``) locks that wrong rate until it is
reset, a non-sticky one (the default) still syncs once the host comes down into range.
Nobody has measured which real ROMs do, so both are modelled.
"""

from collections.abc import Callable

AUTOBAUD_MAX = 460_800
RATE_TOLERANCE = 0.02  # a UART still frames bytes this far off; a divider's rounding is less
STICKY_LOCK_FACTOR = 0.93  # the "not quite right" divider a sticky ROM locks above its range
FALLBACK_BAUD = 115_200  # what a ROM with no host rate to follow runs at


class Uart:
    """The module's side of the serial line. ``rate`` None: the ROM loader is auto-bauding,
    following the host within its range; else the rate its divider gives."""

    def __init__(
        self,
        apb_hz: int,
        host_baud: Callable[[], int],
        *,
        autobaud_max: int = AUTOBAUD_MAX,
        autobaud_sticky: bool = False,
        adapter_max_baud: int | None = None,
    ) -> None:
        self.apb_hz = apb_hz
        self.autobaud_max = autobaud_max
        self.autobaud_sticky = autobaud_sticky
        self.adapter_max_baud = adapter_max_baud
        self.rate: int | None = None
        self._host_baud = host_baud

    def reset(self, rate: int | None) -> None:
        """The chip (re)starts: at a fixed rate (boot log, firmware), or auto-bauding."""
        self.rate = rate

    def baud(self) -> int:
        """The rate the module sends and samples at (the host's while auto-bauding)."""
        return self.rate or self._host_baud() or FALLBACK_BAUD

    def set_baud(self, rate: float) -> None:
        self.rate = max(1, round(rate))

    def divider(self) -> int:
        """UART_CLKDIV: the clock cycles per bit."""
        return max(1, round(self.apb_hz / self.baud()))

    def lock(self) -> None:
        """Auto-baud ends at a valid SYNC: the UART keeps the rate it measured, as the
        integer divider nearest to it gives it."""
        if self.rate is None:
            measured = self._host_baud() or FALLBACK_BAUD
            self.rate = round(self.apb_hz / max(1, round(self.apb_hz / measured)))

    def hear(self, host: int) -> None:
        """Bytes arrive from the host at ``host`` baud: a sticky ROM locks a wrong rate on
        bytes above its range."""
        if self.rate is None and self.autobaud_sticky and host > self.autobaud_max:
            self.rate = round(host * STICKY_LOCK_FACTOR)

    def clear(self, host: int) -> bool:
        """Whether bytes cross the line intact, both ways, with the host at ``host`` baud
        (0: unknown)."""
        if not host:
            return True  # no rate to compare (the tty is gone): nothing garbles
        if self.adapter_max_baud is not None and host > self.adapter_max_baud:
            return False
        if self.rate is None:
            return host <= self.autobaud_max
        return abs(host - self.rate) <= RATE_TOLERANCE * self.rate
