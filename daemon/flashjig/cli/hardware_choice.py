"""Which hardware a command runs on, chosen in one place for ``run``, ``flash``,
``restore`` and ``probe``: the Pi's, as the daemon gets it (its pins on the GPIO chip of
the 40-pin header, found by label), or with --simulate mock pins and emulated modules."""

from __future__ import annotations

import argparse

from flashjig.config import Config
from flashjig.hardware.base import Hardware


def choose_hardware(
    config: Config, args: argparse.Namespace, *, seat: str | None = None
) -> Hardware:
    """``PiHardware``, or with --simulate ``SimulatedHardware`` (with --line-rate, where
    the command has it): no module seated (``flashjig ctl`` or the probe seats them), or
    with ``seat`` a module in every socket, ``seat``'s of --sim-flash-size. The simulation
    is imported only when asked for."""
    if not args.simulate:
        from flashjig.hardware.pi import PiHardware

        return PiHardware(config)
    from flashjig.simulation.hardware import ModuleSpec, SimulatedHardware

    line_rate = getattr(args, "line_rate", False)  # probe has no --line-rate
    if seat is None:
        return SimulatedHardware(config, insert_all=False, line_rate=line_rate)
    return SimulatedHardware(
        config, modules={seat: ModuleSpec(flash_size=args.sim_flash_size)}, line_rate=line_rate
    )
