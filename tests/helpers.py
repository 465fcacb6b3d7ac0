"""Helpers several test files share: the flashjig command, a seated socket."""

import contextlib
import subprocess
import sys
import weakref

from flashjig.pins import StrapLine, power_switch
from flashjig.strapping import ModuleLines


def flashjig(*args, timeout=120, **kwargs):
    """Run the flashjig command in a fresh interpreter, as a user would, and capture it."""
    return subprocess.run(
        [sys.executable, "-m", "flashjig", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )


# Power switches kept on after their job, per hardware and socket, until the hardware goes.
_held_power = weakref.WeakKeyDictionary()


@contextlib.contextmanager
def seated(config, hardware, socket, *, keep_power=False):
    """The socket's strapping lines, and its power switch on if it has one, as the station
    holds them while a module is seated.

    keep_power leaves the power on after the block, as a station does while the module stays
    seated: for tests that look at the running module afterwards or flash it again."""
    sock = config.socket(socket)
    lines = ModuleLines(
        StrapLine(sock.gpio0, pin_factory=hardware.pin_factory),
        StrapLine(sock.en, pin_factory=hardware.pin_factory),
    )
    held = _held_power.setdefault(hardware, {})
    if socket in held:
        power = held[socket]
    else:
        power = power_switch(
            sock.power, active_low=sock.power_active_low, pin_factory=hardware.pin_factory
        )
        if keep_power:
            held[socket] = power
    if power is not None:
        power.on()
    try:
        yield lines
    finally:
        lines.close()
        if power is not None and socket not in held:
            power.close()
