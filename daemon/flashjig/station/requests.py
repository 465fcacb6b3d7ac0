"""The control socket's requests: a JSON object with a ``cmd`` (``flashjig status``,
``flashjig ctl``), checked for its types here and carried out by the station's commands.
The answers' shapes are what ``flashjig ctl`` and scripts read: they stay as they are.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flashjig.errors import ControlError
from flashjig.station.commands import NotFlashed, StationCommands

Answer = dict[str, Any]
DEFAULT_HOLD_S = 0.15  # a short press


class ControlRequests:
    """Answers one control request with the station's commands. A refusal (the commands'
    ``Refused``) or a request of the wrong shape (``ControlError``) is the control
    server's ``{"ok": false, "error": ...}``."""

    def __init__(self, commands: StationCommands) -> None:
        self.commands = commands
        self._answers: dict[str, Callable[[dict[str, Any]], Answer]] = {
            "status": self._status,
            "flash": self._flash,
            "cancel": self._cancel,
            "drain": self._drain,
            "resume": self._resume,
            "reload": self._reload,
            "profile": self._profile,
            "insert": self._insert,
            "remove": self._remove,
            "press": self._press,
        }

    def __call__(self, request: dict[str, Any]) -> Answer:
        answer = self._answers.get(request["cmd"])
        if answer is None:
            raise ControlError(f"unknown command {request['cmd']!r}")
        return answer(request)

    def _status(self, request: dict[str, Any]) -> Answer:
        return {"ok": True, "status": self.commands.status().as_dict()}

    def _flash(self, request: dict[str, Any]) -> Answer:
        socket = request.get("socket")
        try:
            return {"ok": True, "started": self.commands.flash(_optional_socket(socket))}
        except NotFlashed as e:  # not an error here: nothing was ready
            if e.socket is None:
                return {"ok": True, "started": []}
            return {"ok": True, "started": [], "why": e.why[e.socket]}

    def _cancel(self, request: dict[str, Any]) -> Answer:
        socket = _optional_socket(request.get("socket"))
        return {"ok": True, "cancelled": self.commands.cancel(socket)}

    def _drain(self, request: dict[str, Any]) -> Answer:
        why = request.get("why") or "asked to drain"
        if not isinstance(why, str):
            raise ControlError(f"bad request: why must be text, got {why!r}")
        return {"ok": True, "busy": self.commands.drain(why)}

    def _resume(self, request: dict[str, Any]) -> Answer:
        self.commands.resume()
        return {"ok": True}

    def _reload(self, request: dict[str, Any]) -> Answer:
        self.commands.reload()
        return {"ok": True}

    def _profile(self, request: dict[str, Any]) -> Answer:
        name = request.get("name")
        if not isinstance(name, str):
            raise ControlError(f"bad request: name must be a profile's name, got {name!r}")
        self.commands.set_profile(name)
        return {"ok": True}

    def _insert(self, request: dict[str, Any]) -> Answer:
        fault = request.get("fault") or "none"
        if not isinstance(fault, str):
            raise ControlError(f"bad request: fault must be a fault's name, got {fault!r}")
        return {"ok": True, "mac": self.commands.insert(_socket(request.get("socket")), fault)}

    def _remove(self, request: dict[str, Any]) -> Answer:
        self.commands.remove(_socket(request.get("socket")))
        return {"ok": True}

    def _press(self, request: dict[str, Any]) -> Answer:
        hold = request.get("hold") or DEFAULT_HOLD_S
        if not isinstance(hold, int | float) or isinstance(hold, bool):
            raise ControlError(f"bad request: hold must be seconds, got {hold!r}")
        self.commands.press(hold)
        return {"ok": True}


def _socket(name: object) -> str:
    if not isinstance(name, str):
        raise ControlError(f"bad request: socket must be a socket's name, got {name!r}")
    return name


def _optional_socket(name: object) -> str | None:
    return None if name is None else _socket(name)
