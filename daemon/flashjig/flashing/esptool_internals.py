"""Every use of esptool's private names, in one place: esptool is pinned below 6, and an
upgrade is checked against this module alone.

- ``close_port``: a loader keeps its serial port in ``_port``, and has no public close.
- ``image_with_flash_params``: esptool's own header rewrite (flash mode, frequency and
  size) for an image at ``offset``, as write-flash does it.
- ``image_incompatibility``: write-flash's own reason to refuse an ESP32-family image on
  the connected chip (its chip id, or a chip revision outside the image's, by esptool's
  rules for which of the header's revision fields count).
- ``quiet_hex_dumps``: esptool 5.6 formats every packet it sends or receives as a hex
  dump for its trace output, in f-strings that run whether tracing is on or not
  (``ESPLoader.write``, ``command`` and ``slip_reader`` wrap the bytes in
  ``HexFormatter``, whose laziness an f-string defeats). That is about 8 ms of CPU per
  16 KiB block, twice per block: most of what a write costs the host, and on a Pi Zero 2
  it delays every block. This swaps in a HexFormatter that formats only once some loader
  in this process has tracing on.
"""

from __future__ import annotations

import esptool.loader
from esptool.bin_image import ESP32FirmwareImage
from esptool.cmds import _get_image_incompatibility, _update_image_flash_params
from esptool.loader import ESPLoader


def close_port(esp: ESPLoader) -> None:
    esp._port.close()


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
