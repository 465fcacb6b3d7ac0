"""The computer the station runs on, as a dashboard shows it: the Pi's model, serial number
and network MAC (Home Assistant's device info), its CPU temperature and the free space
where the journal lives. Each is read from the kernel's files; what a machine does not
have (no thermal zone in a container, no device tree on a laptop) is None."""

import shutil
from pathlib import Path

DEVICE_TREE = Path("/proc/device-tree")
THERMAL_ZONE = Path("/sys/class/thermal/thermal_zone0/temp")  # the SoC's, on a Pi
NETWORK = Path("/sys/class/net")


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip("\x00 \n") or None
    except OSError:
        return None


def model() -> str | None:
    """'Raspberry Pi 4 Model B Rev 1.5', from the device tree."""
    return _read(DEVICE_TREE / "model")


def serial_number() -> str | None:
    return _read(DEVICE_TREE / "serial-number")


def mac_address() -> str | None:
    """The wired interface's MAC if there is one, else the wireless one's."""
    for name in ("eth0", "end0", "wlan0"):
        address = _read(NETWORK / name / "address")
        if address and address != "00:00:00:00:00:00":
            return address
    return None


def cpu_temperature_c() -> float | None:
    text = _read(THERMAL_ZONE)
    try:
        return round(int(text) / 1000, 1) if text else None
    except ValueError:
        return None


def free_megabytes(path: Path) -> float | None:
    try:
        return round(shutil.disk_usage(path).free / 1e6, 1)
    except OSError:
        return None
