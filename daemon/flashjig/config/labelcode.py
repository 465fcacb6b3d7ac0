"""What a label's QR code carries: one line of compact JSON (README.md, "Labels"), made by
segno at error correction M (a label rubbed on a workbench still reads).

Here, below the station, so that the loader can make the code of the longest label a
config gives out and refuse a client id template the code cannot hold, with the very
payload and code the labels are drawn with (flashjig.station.labels).
"""

from __future__ import annotations

import json

import segno

from flashjig.errors import FlashjigError

PAYLOAD_VERSION = 1
ERROR_CORRECTION = "m"
# Stand-ins for what only the module says, as long as it can be: esptool's longest chip
# description is 32 characters ("ESP32-PICO-V3-02 (revision v3.1)"), room left for a
# two-digit revision; a MAC and a date have one length.
LONGEST_CHIP = "ESP32-PICO-V3-02 (revision v99.99)"
ANY_MAC = "5c:cf:7f:00:00:00"
ANY_DATE = "2026-12-02"


def payload(
    *,
    serial: int | None,
    client_id: str | None,
    mac: str,
    station: str,
    profile: str,
    chip: str | None,
    date: str,
) -> str:
    """The QR code's text: the fields in this order, a field the unit lacks as null."""
    return json.dumps(
        {
            "v": PAYLOAD_VERSION,
            "serial": serial,
            "client_id": client_id,
            "mac": mac,
            "station": station,
            "profile": profile,
            "chip": chip,
            "date": date,
        },
        separators=(",", ":"),
    )


class LabelError(FlashjigError):
    """A unit's label cannot be made from what it holds (a client id no QR code holds, a
    line break Pillow cannot measure): the same on every try, so it is not retried."""


def qr_code(text: str) -> segno.QRCode:
    """The payload's QR code; LabelError when no QR code holds that much."""
    try:
        return segno.make(text, error=ERROR_CORRECTION, micro=False)
    except segno.DataOverflowError:
        raise LabelError(
            f"no QR code holds its {len(text.encode())} bytes at error correction "
            f"{ERROR_CORRECTION.upper()}"
        ) from None


def overflow(*, serial: int, client_id: str, station: str, profile: str) -> str | None:
    """Why no label with this unit can be made, whatever module it is; None if one can."""
    text = payload(
        serial=serial,
        client_id=client_id,
        mac=ANY_MAC,
        station=station,
        profile=profile,
        chip=LONGEST_CHIP,
        date=ANY_DATE,
    )
    try:
        qr_code(text)
    except LabelError as e:
        return str(e)
    return None
