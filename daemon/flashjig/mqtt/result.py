"""The result event: what goes out on ``<base>/result`` for every finished attempt, and
its schema (README.md, "Result events", documents each field; a test holds the two
together). Built from the journal row but not the row itself: the outbox's own bookkeeping
(``published``) stays home, an image is named by its file name, not by a path on the Pi,
and "no reason" is null."""

from typing import Any

from flashjig.station.journal import AttemptRow

SCHEMA = 1

# field -> what it is, as README.md's table says it.
FIELDS = {
    "schema": "this schema's version (1)",
    "id": "the attempt's journal id: one event per id, however often the broker comes and goes",
    "station": "station id",
    "socket": "socket name",
    "profile": "the profile flashed",
    "result": "ok, failed, cancelled or interrupted",
    "reason": "why it failed (no sync, verify failed, taken out, ...), null when ok",
    "detail": "the failure in words",
    "attempt": "1 for the first try, 2 for the first retry, ...",
    "mac": "the module's MAC, null when it never answered",
    "chip": "the chip esptool found (ESP8266EX, ESP32-C3 (QFN32) (revision v0.4))",
    "chip_revision": "an ESP32-family chip's revision (v0.4), null on an ESP8266",
    "flash_id": "the flash chip's JEDEC id, hex",
    "flash_size": "the flash size found (after the real-capacity check)",
    "serial": "the unit's serial, when the profile gives units an identity",
    "client_id": "the unit's client id, likewise",
    "images": "each image written: offset, name (file name), sha256, size, skipped",
    "bytes": "bytes written",
    "baud": "the baud rate the images were written at",
    "sync_baud": "the rate the ROM was synced at (0: it never answered)",
    "stub_baud": "the rate the flasher stub went up at",
    "rate_fallback": "the faster step that did not hold: sync, rom-baud, stub-baud, or ''",
    "adapter": "the socket's USB adapter (vid:pid:serial:product), null when unknown",
    "duration_s": "seconds from start to verdict",
    "started_at": "UTC, ISO 8601",
    "finished_at": "UTC, ISO 8601",
    "boot_log": "the firmware's last lines, when the profile checks the boot",
}


def result_event(row: AttemptRow) -> dict[str, Any]:
    """The event for a finished attempt, with exactly the fields of ``FIELDS``."""
    return {
        "schema": SCHEMA,
        "id": row.id,
        "station": row.station,
        "socket": row.socket,
        "profile": row.profile,
        "result": str(row.result),
        "reason": str(row.reason) if row.reason else None,
        "detail": row.detail,
        "attempt": row.retry + 1,
        "mac": row.mac,
        "chip": row.chip,
        "chip_revision": row.chip_revision,
        "flash_id": row.flash_id,
        "flash_size": row.flash_size,
        "serial": row.serial,
        "client_id": row.client_id,
        "images": [_image(image) for image in row.images],
        "bytes": row.bytes,
        "baud": row.baud,
        "sync_baud": row.sync_baud,
        "stub_baud": row.stub_baud,
        "rate_fallback": row.rate_fallback,
        "adapter": row.adapter,
        "duration_s": row.duration_s,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
        "boot_log": row.boot_log,
    }


def _image(image: dict[str, Any]) -> dict[str, Any]:
    name = str(image.get("file", "")).rsplit("/", 1)[-1]
    return {
        "offset": image.get("offset"),
        "name": name,
        "sha256": image.get("sha256"),
        "size": image.get("size"),
        "skipped": bool(image.get("skipped", False)),
    }
