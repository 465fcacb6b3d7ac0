"""The station's one set of commands. The control socket, MQTT and the status page each
parse their own transport (a JSON line, a topic and payload, a form) and call these; a
refusal is a ``Refused`` whose words every transport passes on unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from flashjig.errors import CommandError, ImageError
from flashjig.hardware.base import Operator
from flashjig.station.station import Station
from flashjig.station.status import StationStatus

log = logging.getLogger(__name__)

MAX_HOLD_S = 60.0  # the longest simulated button press
DRAIN_WHY_CHARS = 200  # a drain's reason, as kept and shown
_T = TypeVar("_T")


class Refused(CommandError):
    """A command the station will not carry out; the message says why, in one line."""


class UnknownSocket(Refused):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"unknown socket {name!r} (known: {', '.join(known)})")


class UnknownProfile(Refused):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f"unknown profile {name!r} (known: {', '.join(known)})")


class NotFlashed(Refused):
    """Nothing started: ``why`` says, for each socket asked, why not. ``socket`` is the
    one socket asked for, None for all."""

    def __init__(self, socket: str | None, why: dict[str, str]) -> None:
        if socket is None:
            super().__init__(f"nothing to flash: {'; '.join(why.values())}")
        else:
            super().__init__(f"not flashed: {why[socket]}")
        self.socket = socket
        self.why = why


class NeedsSimulation(Refused):
    """Acting as the person at the jig, on a station that has real people for that."""

    def __init__(self, command: str) -> None:
        super().__init__(f"'{command}' needs a simulated station (flashjig run --simulate)")


# The daemon's reload: None when applied, else why not (one line).
Reload = Callable[[], "str | None"]


class StationCommands:
    """What may be asked of a running station, from any transport."""

    def __init__(
        self, station: Station, *, reload: Reload | None = None, operator: Operator | None = None
    ) -> None:
        self.station = station
        self._reload = reload
        self._operator = operator

    def status(self) -> StationStatus:
        return self.station.status()

    def flash(self, socket: str | None = None) -> list[str]:
        """Flash one socket, or every socket holding a module not yet flashed: the names
        that started; NotFlashed when none did."""
        if socket is None:
            started = self.station.flash_all()
            if not started:
                raise NotFlashed(None, {n: self.station.why_not_flashed(n) for n in self.sockets})
            return started
        self.known(socket)
        if not self.station.flash_one(socket):
            raise NotFlashed(socket, {socket: self.station.why_not_flashed(socket)})
        return [socket]

    def cancel(self, socket: str | None = None) -> list[str]:
        """Cancel the flashes in progress, or socket's alone (the others flash on); the
        sockets that were flashing."""
        if socket is None:
            return self.station.cancel_all()
        self.known(socket)
        return self.station.cancel_one(socket)

    def drain(self, why: str) -> list[str]:
        """Take no new module; the sockets still flashing."""
        return self.station.drain(why[:DRAIN_WHY_CHARS] or "asked to drain")

    def resume(self) -> None:
        self.station.resume()

    def set_profile(self, name: str) -> None:
        """Make another of the config's profiles active; running flashes finish with the
        old one. Refused for a name the config does not have, or images that fail their
        checks (the active profile stays)."""
        profiles = self.station.config.profiles
        if name not in profiles:
            raise UnknownProfile(name, list(profiles))
        try:
            self.station.set_profile(name)
        except ImageError as e:
            raise Refused(f"profile {name} not made active: {e}") from None
        log.info("active profile is now %s", name)

    def reload(self) -> None:
        """Apply the changed config (refused: the old one keeps running)."""
        if self._reload is None:
            raise Refused("this station cannot reload its config")
        refused = self._reload()
        if refused is not None:
            raise Refused(f"reload refused: {refused}")

    # -- the person at the jig, where the hardware has a stand-in for one ----------------

    def insert(self, socket: str, fault: str = "none") -> str:
        """Seat a module (with a named fault); its MAC."""
        operator = self._needs_operator("insert")
        return self._acted(lambda: operator.insert(self.known(socket), fault))

    def remove(self, socket: str) -> None:
        operator = self._needs_operator("remove")
        self._acted(lambda: operator.remove(self.known(socket)))

    def press(self, hold: float) -> None:
        operator = self._needs_operator("press")
        if not 0 < hold <= MAX_HOLD_S:
            raise Refused(f"hold must be between 0 and {MAX_HOLD_S:g} seconds")
        self._acted(lambda: operator.press(hold))

    # -- checks --------------------------------------------------------------------------

    @property
    def sockets(self) -> list[str]:
        return list(self.station.sockets)

    def known(self, socket: str) -> str:
        """``socket`` when the station has it, else UnknownSocket naming those it has."""
        if socket not in self.station.sockets:
            raise UnknownSocket(socket, self.sockets)
        return socket

    def _needs_operator(self, command: str) -> Operator:
        if self._operator is None:
            raise NeedsSimulation(command)
        return self._operator

    @staticmethod
    def _acted(act: Callable[[], _T]) -> _T:
        try:
            return act()
        except ValueError as e:  # the stand-in could not do it (a socket already full)
            raise Refused(str(e)) from None
