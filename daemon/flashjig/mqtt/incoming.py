"""What the fleet viewer takes from a station, checked against what stations publish: the
result event (flashjig.mqtt.result) and the retained states (flashjig.mqtt.states'
station state, a socket's ``SocketStatus.as_dict()``, availability). Any account that may
write a station's topics can send anything there, and a message the viewer cannot read
must cost that message only, never the view of the whole fleet.

A field may be missing: schema 1 has grown without changing (``chip_revision`` came
later), so an older station sends fewer fields. A field that is there must have its type.
Fields this viewer does not know are let through: a newer station may add some.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flashjig.flashing.result import Outcome
from flashjig.mqtt.result import SCHEMA

LARGEST = 2**63 - 1  # SQLite's largest integer: a journal id is one


class Refused(ValueError):
    """A message that does not match its schema; the text says what is wrong, in one line."""


@dataclass(frozen=True)
class Kind:
    """What a field's value must be, in words and as a test."""

    words: str
    test: Callable[[Any], bool]


def _whole(value: Any, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= LARGEST


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _time(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _optional(kind: Kind) -> Kind:
    return Kind(f"{kind.words} or null", lambda v: v is None or kind.test(v))


def _whole_from(low: int) -> Kind:
    return Kind(f"a whole number from {low}", lambda v: _whole(v, low))


TEXT = Kind("text", lambda v: isinstance(v, str))
NUMBER = Kind("a number", _number)
FLAG = Kind("true or false", lambda v: isinstance(v, bool))
TIME = Kind("a time in ISO 8601", _time)
COUNT = _whole_from(0)

IMAGE = {
    "offset": _optional(COUNT),
    "name": TEXT,
    "sha256": _optional(TEXT),
    "size": _optional(COUNT),
    "skipped": FLAG,
}
IMAGES = Kind(
    "a list of images (offset, name, sha256, size, skipped)",
    lambda v: (
        isinstance(v, list)
        and all(
            isinstance(image, dict)
            and all(k not in image or kind.test(image[k]) for k, kind in IMAGE.items())
            for image in v
        )
    ),
)
ENDINGS = [o.value for o in Outcome if o is not Outcome.STARTED]  # a result has ended

# The result event: every field of flashjig.mqtt.result.FIELDS (a test holds the two
# together), and those without which the viewer cannot keep or count a result.
RESULT = {
    "schema": Kind(
        f"{SCHEMA}, the schema this viewer reads", lambda v: _whole(v, 0) and v == SCHEMA
    ),
    "id": _whole_from(1),
    "station": TEXT,
    "socket": TEXT,
    "profile": TEXT,
    "result": Kind(", ".join(ENDINGS), lambda v: isinstance(v, str) and v in ENDINGS),
    "reason": _optional(TEXT),
    "detail": TEXT,
    "attempt": _whole_from(1),
    "mac": _optional(TEXT),
    "chip": _optional(TEXT),
    "chip_revision": _optional(TEXT),
    "flash_id": _optional(TEXT),
    "flash_size": _optional(TEXT),
    "serial": _optional(COUNT),
    "client_id": _optional(TEXT),
    "images": IMAGES,
    "bytes": COUNT,
    "baud": COUNT,
    "sync_baud": COUNT,
    "stub_baud": COUNT,
    "rate_fallback": TEXT,
    "adapter": _optional(TEXT),
    "duration_s": _optional(NUMBER),
    "started_at": TIME,
    "finished_at": _optional(TIME),
    "boot_log": TEXT,
}
RESULT_NEEDS = ("schema", "id", "station", "socket", "result", "started_at")

STATION_STATE = {
    "profile": TEXT,
    "ok_today": COUNT,
    "failed_today": COUNT,
    "ok_total": COUNT,
    "failed_total": COUNT,
    "flashing": COUNT,
    "journal": TEXT,
    "broker": TEXT,
    "backlog": COUNT,
    "healthy": FLAG,
    "version": TEXT,
    "cpu_temp_c": _optional(NUMBER),
    "disk_free_mb": _optional(NUMBER),
    "serial_range": Kind(
        "two whole numbers, low to high",
        lambda v: (
            isinstance(v, list) and len(v) == 2 and all(_whole(n, 0) for n in v) and v[0] <= v[1]
        ),
    ),
}

SOCKET_STATE = {
    "name": TEXT,
    "state": TEXT,
    "stage": TEXT,
    "progress": NUMBER,
    "attempt": COUNT,
    "profile": _optional(TEXT),
    "mac": _optional(TEXT),
    "last_result": _optional(TEXT),
    "reason": TEXT,
    "detail": TEXT,
    "duration_s": _optional(NUMBER),
    "since": NUMBER,
    "inserted": FLAG,
    "rates": _optional(
        Kind(
            "the socket's rates (sync, write, adapter, fallbacks)",
            lambda v: (
                isinstance(v, dict)
                and all(k not in v or _whole(v[k], 0) for k in ("sync", "write", "fallbacks"))
                and (v.get("adapter") is None or isinstance(v["adapter"], str))
            ),
        )
    ),
}

AVAILABILITY = ("online", "offline")


def check_result(payload: bytes) -> dict[str, Any]:
    return _checked(payload, RESULT, RESULT_NEEDS)


def check_station_state(payload: bytes) -> dict[str, Any]:
    return _checked(payload, STATION_STATE, ())


def check_socket_state(payload: bytes) -> dict[str, Any]:
    return _checked(payload, SOCKET_STATE, ())


def check_availability(payload: bytes) -> str:
    text = payload.decode("utf-8", "replace")
    if text not in AVAILABILITY:
        raise Refused(f"{_shown(text)} is not online or offline")
    return text


def _checked(payload: bytes, kinds: dict[str, Kind], needed: tuple[str, ...]) -> dict[str, Any]:
    try:
        value = json.loads(payload.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise Refused(f"not UTF-8 text (byte {e.start} is {payload[e.start]:#04x})") from None
    except RecursionError:
        raise Refused("not JSON the viewer can read (nested too deep)") from None
    except ValueError as e:
        raise Refused(f"not JSON ({e})") from None
    if not isinstance(value, dict):
        raise Refused(f"{_shown(value)} is not a JSON object")
    for name in needed:
        if name not in value:
            raise Refused(f'no "{name}"')
    for name, kind in kinds.items():
        if name in value and not kind.test(value[name]):
            raise Refused(f'"{name}" is {_shown(value[name])}, not {kind.words}')
    return value


def _shown(value: Any) -> str:
    """A value in a refusal: as JSON (ASCII: a station's bytes cannot steer the terminal),
    cut short."""
    try:
        text = json.dumps(value)
    except RecursionError:
        return "nested too deep"
    return text if len(text) <= 40 else f"{text[:37]}..."


def one_line(text: str) -> str:
    """``text`` as one printable line: what a station sent (a station id, a MAC, a reason)
    is shown with its control characters escaped, so it can neither break the view's lines
    nor send escape sequences to the terminal."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")
