"""Simulated station hardware: gpiozero mock pins and one emulated module per socket,
wired as the config says (or, for a fault test, as it does not). The station code above
this sees pins from a pin factory and a serial device path, as on a Pi."""

from dataclasses import dataclass, field

from gpiozero.pins.mock import MockFactory

from flashjig.config import Config
from flashjig.emulator import EmulatedModule, Faults, FlashChip
from flashjig.emulator.flashchip import SIZES
from flashjig.emulator.module import StrapPin


@dataclass(frozen=True)
class ModuleSpec:
    """What sits in a simulated socket, and how it is wired."""

    flash_size: str = "1MB"
    claimed_size: str | None = None
    gpio0: str | None = None  # None: the pin the config names
    en: str | None = None
    faults: Faults = field(default_factory=Faults)


class SimulatedHardware:
    def __init__(
        self,
        config: Config,
        *,
        modules: dict[str, ModuleSpec] | None = None,
        line_rate: bool = False,
    ) -> None:
        self.pin_factory = MockFactory()
        self.modules: dict[str, EmulatedModule] = {}
        specs = modules or {}
        for socket in config.sockets:
            spec = specs.get(socket.name, ModuleSpec())
            # Strap pins are made first so the station's devices get the same pins.
            gpio0 = self.pin_factory.pin(spec.gpio0 or socket.gpio0, pin_class=StrapPin)
            en = self.pin_factory.pin(spec.en or socket.en, pin_class=StrapPin)
            chip = FlashChip(
                SIZES[spec.flash_size],
                claimed_size=SIZES[spec.claimed_size] if spec.claimed_size else None,
            )
            self.modules[socket.name] = EmulatedModule(
                f"{config.station.id}-{socket.name}",
                chip,
                gpio0=gpio0,
                en=en,
                line_rate=line_rate,
                faults=spec.faults,
            )

    def port(self, socket: str) -> str:
        return self.modules[socket].device

    def close(self) -> None:
        for module in self.modules.values():
            module.close()
            module.flash.close()
        self.pin_factory.close()

    def __enter__(self) -> "SimulatedHardware":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
