"""Faults an emulated module can be given, and the named ones the simulated station
offers (``flashjig ctl insert --fault``)."""

import random
from dataclasses import dataclass

FAULT_NAMES = ("none", "silent", "pulled-mid-write", "noisy", "flaky-boot")


@dataclass
class Faults:
    """Faults to inject. ``silent`` is a module pulled from its socket.

    ``silent_after_bytes`` pulls it once that many bytes have come from the host;
    ``drop_rate`` and ``corrupt_rate`` act on every byte the module sends;
    ``reset_after`` makes the firmware crash into a watchdog reset (a flaky unit).
    """

    silent: bool = False
    silent_after_bytes: int | None = None
    drop_rate: float = 0.0
    corrupt_rate: float = 0.0
    seed: int = 0
    reset_after: float | None = None  # the firmware resets this long after it starts


def named_fault(name: str) -> Faults:
    """none; silent (never syncs); pulled-mid-write (goes silent after 50-500 kB);
    noisy (drops and flips bits on its line); flaky-boot (firmware resets after 1 s)."""
    rng = random.Random()
    if name == "none":
        return Faults()
    if name == "silent":
        return Faults(silent=True)
    if name == "pulled-mid-write":
        return Faults(silent_after_bytes=rng.randrange(50_000, 500_000))
    if name == "noisy":
        return Faults(drop_rate=0.00002, corrupt_rate=0.00002, seed=rng.randrange(1 << 30))
    if name == "flaky-boot":
        return Faults(reset_after=1.0)
    raise ValueError(f"unknown fault {name!r} (one of {', '.join(FAULT_NAMES)})")
