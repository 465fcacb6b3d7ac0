"""Which Raspberry Pi this is, from the device tree: for a config whose ``station.pi_model``
is absent or ``auto``, and for ``flashjig usb-map``, which writes it into the config.

The firmware names the board in the device tree's root ``model`` property, which Linux shows
as ``/proc/device-tree/model`` (a link to ``/sys/firmware/devicetree/base``), NUL-terminated:
"Raspberry Pi 5 Model B Rev 1.0", "Raspberry Pi 4 Model B Rev 1.4", "Raspberry Pi 3 Model
B Plus Rev 1.3", "Raspberry Pi Zero 2 W Rev 1.0" (the ``model`` strings of the
raspberrypi/linux device trees bcm2712-rpi-5-b.dts, bcm2711-rpi-4-b.dts,
bcm2710-rpi-3-b-plus.dts, bcm2710-rpi-zero-2-w.dts; the Pi 5's checked on a Pi 5:
shared/platform-notes.md). A Pi 400, 500 or Compute Module is none of the stations's models
(their USB ports differ): like a machine that is not a Pi, it has no model here and the
config must say which to check against.
"""

from __future__ import annotations

from pathlib import Path

DEVICE_TREE_MODEL = Path("/proc/device-tree/model")
# What the station checks a config against when neither the config nor the machine says:
# the reference station (hw/README.md) is a Pi 4.
DEFAULT_PI_MODEL = "4"
# The start of each model's device-tree name (the revision follows), for PI_MODELS.
_NAMES = (
    ("Raspberry Pi 5 Model B", "5"),
    ("Raspberry Pi 4 Model B", "4"),
    ("Raspberry Pi 3 Model B Plus", "3B+"),
    ("Raspberry Pi Zero 2 W", "Zero2W"),
)


def pi_model_named(name: str) -> str | None:
    """The station's name (``PI_MODELS``) for a device-tree model string; None for any
    other board."""
    name = name.rstrip("\0").strip()
    for start, model in _NAMES:
        if name == start or name.startswith(f"{start} "):
            return model
    return None


def machine_pi_model(model_file: Path | None = None) -> str | None:
    """This machine's Pi model from ``model_file`` (default: /proc/device-tree/model, read
    at call time so that tests can point ``DEVICE_TREE_MODEL`` elsewhere); None when there
    is no device tree (not a Pi: a PC, CI, a container) or the board is not one of ours."""
    path = DEVICE_TREE_MODEL if model_file is None else model_file
    try:
        name = path.read_bytes().decode("utf-8", "replace")
    except OSError:
        return None
    return pi_model_named(name)
