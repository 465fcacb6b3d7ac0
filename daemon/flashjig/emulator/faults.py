"""Faults an emulated module can be given, and the named ones the simulated station
offers (``flashjig ctl insert --fault``)."""

import random
from dataclasses import dataclass

FAULT_NAMES = (
    "none",
    "silent",
    "pulled-mid-write",
    "noisy",
    "flaky-boot",
    "sync-every-other",
    "stub-uart-115200",
)


@dataclass
class Faults:
    """Faults to inject. ``silent`` is a module pulled from its socket.

    ``silent_after_bytes`` pulls it once that many bytes have come from the host;
    ``drop_rate`` and ``corrupt_rate`` act on every byte the module sends;
    ``reset_after`` makes the firmware crash into a watchdog reset (a flaky unit);
    ``sync_every_other``: the ROM answers only every second SYNC packet (the first not);
    ``stub_uart_115200``: the stub sets its UART to 115200 as it starts, so a rate the
    ROM was given before it is lost.
    """

    silent: bool = False
    silent_after_bytes: int | None = None
    drop_rate: float = 0.0
    corrupt_rate: float = 0.0
    seed: int = 0
    reset_after: float | None = None  # the firmware resets this long after it starts
    sync_every_other: bool = False
    stub_uart_115200: bool = False


def named_fault(name: str) -> Faults:
    """none; silent (never syncs); pulled-mid-write (goes silent after 50-500 kB);
    noisy (drops and flips bits on its line); flaky-boot (firmware resets after 1 s);
    sync-every-other (the ROM misses every other SYNC); stub-uart-115200 (the stub goes back
    to 115200 as it starts)."""
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
    if name == "sync-every-other":
        return Faults(sync_every_other=True)
    if name == "stub-uart-115200":
        return Faults(stub_uart_115200=True)
    raise ValueError(f"unknown fault {name!r} (one of {', '.join(FAULT_NAMES)})")
