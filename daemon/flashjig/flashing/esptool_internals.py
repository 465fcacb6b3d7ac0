"""Every use of esptool's private names, in one place: esptool is pinned below 6, and an
upgrade is checked against this module alone.

- ``close_port``: a loader keeps its serial port in ``_port``, and has no public close.
- ``image_with_flash_params``: esptool's own header rewrite (flash mode, frequency and
  size) for an image at ``offset``, as write-flash does it.
- ``image_incompatibility``: write-flash's own reason to refuse an ESP32-family image on
  the connected chip (its chip id, or a chip revision outside the image's, by esptool's
  rules for which of the header's revision fields count).
- ``quick_sync``: esptool's ``sync`` (the SYNC packet, then the ROM's seven more replies)
  with a short wait for those replies too: esptool waits 3 s for each, which a ROM that
  heard the sync garbled (a rate it cannot auto-baud to) would cost on every try.
- ``stub_change_baud``: the flasher stub's CHANGE_BAUDRATE for a stub that was not started
  at 115200 (a fast ESP8266 sync), and ``set_line_rate``, the host side of a rate change.
- ``quiet_hex_dumps``: esptool 5.6 formats every packet it sends or receives as a hex
  dump for its trace output, in f-strings that run whether tracing is on or not
  (``ESPLoader.write``, ``command`` and ``slip_reader`` wrap the bytes in
  ``HexFormatter``, whose laziness an f-string defeats). That is about 8 ms of CPU per
  16 KiB block, twice per block: most of what a write costs the host, and on a Pi Zero 2
  it delays every block. This swaps in a HexFormatter that formats only once some loader
  in this process has tracing on.
"""

from __future__ import annotations

import functools
import hashlib
import struct
import time
from pathlib import Path

import esptool.loader
from esptool.bin_image import ESP32FirmwareImage
from esptool.cmds import _get_image_incompatibility, _update_image_flash_params
from esptool.loader import SYNC_TIMEOUT, ESPLoader, FatalError, StubFlasher

SYNC_PACKET = b"\x07\x07\x12\x20" + 32 * b"\x55"  # esptool's: 0x55s the ROM times bits by
SYNC_REPLIES = 8  # a ROM answers one SYNC eight times (esptool reads them all)
RATE_SETTLE_S = 0.05  # esptool's wait after a change of rate, for what the change garbled
# esptool 5.6's ESP8266 flasher stub (esp-flasher-stub, stub_flasher/2/esp8266.json): its
# CHANGE_BAUDRATE scales the UART's divider by 115200 / new rate and ignores the old rate
# esptool sends (esp-stub-lib src/target/esp8266/src/uart.c), so it is right only for a stub
# started at 115200. A stub with another digest is not known to do so: the station then
# syncs an ESP8266 at 115200 (flashing.pipeline), as esptool does.
ESP8266_STUB_SHA256 = "9ce821527ecb67224bf19cf78bef45a4de5b5f03ac08f100daf8de32499972e3"


def close_port(esp: ESPLoader) -> None:
    esp._port.close()


def quick_sync(esp: ESPLoader, tries: int) -> bool:
    """Sync with the ROM at the port's rate: True once a SYNC is answered in full, False
    after ``tries`` SYNCs that were not (each costs about 0.1 s)."""
    for _ in range(tries):
        try:
            esp.flush_input()
            esp._port.flushOutput()
            esp.command(esp.ESP_CMDS["SYNC"], SYNC_PACKET, timeout=SYNC_TIMEOUT)
            for _ in range(SYNC_REPLIES - 1):
                esp.command(timeout=SYNC_TIMEOUT)
            return True
        except (FatalError, struct.error):  # silent, or garbled at this rate
            time.sleep(RATE_SETTLE_S)
    return False


def set_line_rate(esp: ESPLoader, baud: int) -> None:
    """The host's side of the line to ``baud`` (esptool's workaround for the CH341 driver
    included)."""
    esp._set_port_baudrate(baud)


def esp8266_stub_scales_from_115200() -> bool:
    """Whether esptool's ESP8266 stub is the one known to take its new rate as relative to
    115200 (see ESP8266_STUB_SHA256)."""
    return _esp8266_stub_digest(StubFlasher.STUB_SUBDIRS[0]) == ESP8266_STUB_SHA256


@functools.cache
def _esp8266_stub_digest(subdir: str) -> str | None:
    """The digest of the ESP8266 stub esptool uploads from ``subdir``: read once, not on
    every module's attempt."""
    try:
        return hashlib.sha256(
            Path(StubFlasher.STUB_DIR, subdir, "esp8266.json").read_bytes()
        ).hexdigest()
    except OSError:
        return None


def stub_change_baud(esp: ESPLoader, baud: int, started_at: int, *, from_115200: bool) -> None:
    """The stub to ``baud``, from a stub that went up at ``started_at``: esptool's
    change_baud, but for a stub that scales its rate from 115200 (``from_115200``) with
    the first word that lands it on ``baud``."""
    if not from_115200 or started_at == esptool.loader.ESPLoader.ESP_ROM_BAUD:
        esp.change_baud(baud)
        return
    asked = baud * esptool.loader.ESPLoader.ESP_ROM_BAUD // started_at
    esp.command(esp.ESP_CMDS["CHANGE_BAUDRATE"], struct.pack("<II", asked, started_at))
    set_line_rate(esp, baud)
    time.sleep(RATE_SETTLE_S)
    esp.flush_input()


def image_with_flash_params(
    rom: type[ESPLoader],
    offset: int,
    flash_mode: str,
    flash_freq: str,
    flash_size: str,
    data: bytes,
) -> bytes:
    """``data`` (an image for ``rom``'s chip at ``offset``) with its header's flash
    parameters set, its SHA-256 redone where one is appended; images not at the chip's
    bootloader offset come back unchanged."""
    result: bytes = _update_image_flash_params(
        rom, offset, flash_freq, flash_mode, flash_size, data
    )
    return result


def image_incompatibility(esp: ESPLoader, image: ESP32FirmwareImage, name: str) -> str | None:
    """Why esptool's write-flash would not take ``image`` (named ``name``) for the chip
    ``esp`` is connected to, in esptool's words; None if it would. esptool refuses such a
    bootloader and notes such an app (``_validate_image_compatibility``). Its rules
    (``_get_image_incompatibility``): ``max_rev_full`` 0 means an image from before ESP-IDF
    5.0 without the full revision fields, where only the legacy ``min_rev`` counts (the
    chip's minor version on a C3, its major elsewhere); 65535 means no upper bound, with
    the legacy field again when ``min_rev_full`` is unset and ``min_rev`` is not."""
    reason: str | None = _get_image_incompatibility(esp, image, name)
    return reason


class _TraceSwitch:
    """Stands in for the attribute ``ESPLoader._trace_enabled`` (set by every loader's
    ``__init__``, read by ``trace``): the same per-loader value, kept where it was, and
    noting process-wide once any loader traces."""

    def __get__(
        self, loader: ESPLoader | None, owner: type[ESPLoader] | None = None
    ) -> _TraceSwitch | bool:
        if loader is None:
            return self
        enabled = loader.__dict__.get("_trace_enabled", False)
        if enabled:
            _note_tracing()
        return enabled

    def __set__(self, loader: ESPLoader, enabled: bool) -> None:
        loader.__dict__["_trace_enabled"] = enabled
        if enabled:
            _note_tracing()


def _note_tracing() -> None:
    global _tracing
    _tracing = True


_tracing = False  # has any loader in this process had tracing on?


class QuietHexFormatter(esptool.loader.HexFormatter):
    """esptool's HexFormatter, formatting nothing until some loader traces."""

    def __str__(self) -> str:
        return super().__str__() if _tracing else ""


def quiet_hex_dumps() -> None:
    """Make esptool's unseen hex dumps cost nothing (idempotent)."""
    loader = esptool.loader.ESPLoader
    if not isinstance(loader.__dict__.get("_trace_enabled"), _TraceSwitch):
        loader._trace_enabled = _TraceSwitch()
        esptool.loader.HexFormatter = QuietHexFormatter
