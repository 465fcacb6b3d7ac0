"""Where a station keeps its files. A station is identified by its state directory: the
journal lives there and so, unless it is the system station, does the control socket,
so two stations (or a test beside a running service) never share either."""

import os
from pathlib import Path

SYSTEM_STATE_DIR = Path("/var/lib/flashjig")
SYSTEM_RUNTIME_DIR = Path("/run/flashjig")
CONTROL_SOCKET = "control.sock"


def state_dir(given: Path | None) -> Path:
    """--state-dir, else the system station's when it is ours to use (root, or it exists),
    else the user's ($XDG_STATE_HOME/flashjig, for a simulated station on a laptop)."""
    if given is not None:
        return given.absolute()
    if os.geteuid() == 0 or SYSTEM_STATE_DIR.exists():
        return SYSTEM_STATE_DIR
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "flashjig"


def control_socket(state: Path) -> Path:
    if state == SYSTEM_STATE_DIR:
        return Path(os.environ.get("RUNTIME_DIRECTORY", SYSTEM_RUNTIME_DIR)) / CONTROL_SOCKET
    return state / CONTROL_SOCKET
