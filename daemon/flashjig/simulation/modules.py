"""Standalone emulated modules served on pseudo terminals (``flashjig sim``).

Each module waits in download mode, so esptool (or any tool for the chip) can talk to it with
``--before no-reset``; the station's own simulation wires modules to mock pins instead.
"""

import signal
import sys
import threading
from pathlib import Path

from flashjig.config import Chip
from flashjig.config.model import DEFAULT_CHIP
from flashjig.config.sizes import BYTES as SIZES
from flashjig.emulator import EmulatedModule, FlashChip
from flashjig.emulator.chips import CHIPS
from flashjig.emulator.uart import AUTOBAUD_MAX


def serve_modules(
    count: int,
    *,
    chip: Chip = DEFAULT_CHIP,
    flash_size: str = "1MB",
    claimed_size: str | None = None,
    line_rate: bool = False,
    state_dir: Path | None = None,
    autobaud_max: int = AUTOBAUD_MAX,
    adapter_max_baud: int | None = None,
) -> int:
    """Start ``count`` modules, print ``NAME DEVICE`` for each, then ``ready``; serve until
    SIGINT or SIGTERM. With a state directory each module's flash persists in a file. The
    ROMs auto-baud up to ``autobaud_max`` (non-sticky: a module here is never reset); the
    adapter garbles every rate above ``adapter_max_baud``."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    modules = []
    try:
        for index in range(1, count + 1):
            name = f"module{index}"
            backing = None
            if state_dir is not None:
                (state_dir / "sim").mkdir(parents=True, exist_ok=True)
                backing = state_dir / "sim" / f"{name}.flash"
            flash = FlashChip(
                SIZES[flash_size],
                claimed_size=SIZES[claimed_size] if claimed_size else None,
                backing_file=backing,
            )
            module = EmulatedModule(
                name,
                flash,
                chip=CHIPS[chip],
                line_rate=line_rate,
                autobaud_max=autobaud_max,
                adapter_max_baud=adapter_max_baud,
            )
            modules.append(module)
            print(f"{name} {modules[-1].device}", flush=True)
        print("ready", flush=True)
        stop.wait()
    finally:
        for module in modules:
            module.close()
            module.flash.close()
    print("stopped", file=sys.stderr)
    return 0
