"""Helpers several test files share: the flashjig command, a seated socket."""

import contextlib
import subprocess
import sys
import weakref

from flashjig.hardware.socket_lines import SocketLines


def flashjig(*args, timeout=120, **kwargs):
    """Run the flashjig command in a fresh interpreter, as a user would, and capture it."""
    return subprocess.run(
        [sys.executable, "-m", "flashjig", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )


# Socket lines kept (power on) after their job, per hardware and socket, until the hardware goes.
_held = weakref.WeakKeyDictionary()


@contextlib.contextmanager
def seated(config, hardware, socket, *, keep_power=False):
    """The socket's strapping lines, and its power switch on if it has one, as the station
    holds them while a module is seated.

    keep_power leaves the power on after the block, as a station does while the module stays
    seated: for tests that look at the running module afterwards or flash it again."""
    held = _held.setdefault(hardware, {})
    lines = held.get(socket)
    if lines is None:
        lines = SocketLines.build(config.socket(socket), pin_factory=hardware.pin_factory)
        if keep_power:
            held[socket] = lines
    if lines.power is not None:
        lines.power.on()
    try:
        yield lines.straps
    finally:
        if socket not in held:
            lines.close()
