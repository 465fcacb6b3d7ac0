"""A label for every unit flashed: its serial, client id and MAC in words and in a QR code,
for the morning after a batch.

The QR code carries the unit as compact JSON, the payload documented in README.md
("Labels") and made by flashjig.config.labelcode: ``{"v":1,"serial":42,
"client_id":"node-042","mac":"5c:cf:7f:12:34:56","station":"bench-1","profile":"demo",
"chip":"esp8266","date":"2026-12-02"}`` (``v`` the payload's version; a field the unit
lacks is null). The code is made by segno (error correction M: a label rubbed on a
workbench still reads), the label drawn with Pillow at the printer's resolution: the code
as tall as the label allows on the left, the layout's fields beside it in Pillow's own
scalable font. Sheets are A4 pages (a grid of labels with cut margins) or one page per
label (a roll), written as PDF or PNG by Pillow.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from PIL import Image, ImageDraw, ImageFont

from flashjig.config import LabelLayout, labelcode
from flashjig.config.labelcode import LabelError
from flashjig.flashing.result import Outcome
from flashjig.hardware.printers import mm_to_dots
from flashjig.station.journal import AttemptRow

_Font = ImageFont.ImageFont | ImageFont.FreeTypeFont
MARGIN_MM = 1.5  # the unprintable edge of a die-cut label
A4_MM = (210.0, 297.0)
SHEET_MARGIN_MM = 10.0
SHEET_GAP_MM = 3.0

# How a field is shown beside the code.
CAPTIONS = {
    "serial": "#{}",
    "client_id": "{}",
    "mac": "{}",
    "profile": "{}",
    "date": "{}",
    "station": "{}",
    "chip": "{}",
}


@dataclass(frozen=True)
class Label:
    """What one unit's label says."""

    serial: int | None
    client_id: str | None
    mac: str
    station: str
    profile: str
    chip: str | None
    date: str  # YYYY-MM-DD, the day it was flashed

    @classmethod
    def of(cls, row: AttemptRow) -> Label:
        """The label of a unit's (ok) attempt."""
        assert row.mac is not None  # an ok attempt has read the MAC
        return cls(
            serial=row.serial,
            client_id=row.client_id,
            mac=row.mac,
            station=row.station,
            profile=row.profile,
            chip=row.chip,
            date=(row.finished_at or row.started_at)[:10],
        )

    def payload(self) -> str:
        """The QR code's text (see the module docstring)."""
        return labelcode.payload(
            serial=self.serial,
            client_id=self.client_id,
            mac=self.mac,
            station=self.station,
            profile=self.profile,
            chip=self.chip,
            date=self.date,
        )

    def field(self, name: str) -> str | None:
        value = getattr(self, name)
        return None if value is None else CAPTIONS[name].format(value)


def last_ok_labels(rows: Iterable[AttemptRow]) -> list[Label]:
    """A label per unit flashed ok, from its last ok attempt (flashed again, a unit keeps
    its serial and gets one label), by serial: those without one last."""
    last: dict[str, Label] = {}
    for row in rows:
        if row.result is Outcome.OK and row.mac is not None:
            last[row.mac] = Label.of(row)
    return sorted(last.values(), key=lambda label: (label.serial is None, label.serial or 0))


def render(label: Label, layout: LabelLayout, size: tuple[int, int] | None = None) -> Image.Image:
    """One label, black on white (mode "1", as label printers print), at ``layout.dpi``:
    the layout's size, or ``size`` in dots (a Brother die-cut label's printable area).
    LabelError when it cannot be made from what the unit holds."""
    width, height = size or (
        mm_to_dots(layout.width_mm, layout.dpi),
        mm_to_dots(layout.height_mm, layout.dpi),
    )
    margin = mm_to_dots(MARGIN_MM, layout.dpi)
    image = Image.new("1", (width, height), 1)
    code = _qr(label.payload(), height - 2 * margin)
    image.paste(code, (margin, (height - code.height) // 2))
    draw = ImageDraw.Draw(image)
    points = max(1, round(layout.font_size * layout.dpi / 72))
    font = ImageFont.load_default(size=points)
    x = margin + code.width + margin
    lines = [text for name in layout.fields if (text := label.field(name))]
    step = round(points * 1.2)
    y = max(margin, (height - step * len(lines)) // 2)
    for text in lines:
        try:
            draw.text((x, y), _fit(draw, text, font, width - margin - x), font=font, fill=0)
        except ValueError as e:  # Pillow's words: it "can't measure length of multiline text"
            raise LabelError(f"cannot draw {text[:40]!r} on it: {e}") from None
        y += step
    return image


def _qr(payload: str, size: int) -> Image.Image:
    """The payload's QR code, scaled by whole modules to fit ``size`` pixels square."""
    code = labelcode.qr_code(payload)
    modules = code.symbol_size(scale=1, border=2)[0]
    scale = max(1, size // modules)
    out = io.BytesIO()
    code.save(out, kind="png", scale=scale, border=2)
    out.seek(0)
    return Image.open(out).convert("1")


def _fit(draw: ImageDraw.ImageDraw, text: str, font: _Font, room: int) -> str:
    """``text`` cut (with an ellipsis) to ``room`` pixels: a long client id stays legible
    as far as it goes, the QR code still holds all of it."""
    if draw.textlength(text, font=font) <= room:
        return text
    while text and draw.textlength(text + "...", font=font) > room:
        text = text[:-1]
    return text + "..."


@dataclass(frozen=True)
class _Grid:
    """Where labels go on an A4 page, in pixels."""

    columns: int
    rows: int
    cell: tuple[int, int]  # a label and the gap after it
    margin: int

    @classmethod
    def a4(cls, layout: LabelLayout) -> _Grid:
        dpi = layout.dpi
        margin, gap = mm_to_dots(SHEET_MARGIN_MM, dpi), mm_to_dots(SHEET_GAP_MM, dpi)
        cell = (mm_to_dots(layout.width_mm, dpi) + gap, mm_to_dots(layout.height_mm, dpi) + gap)
        room = (
            mm_to_dots(A4_MM[0], dpi) - 2 * margin + gap,
            mm_to_dots(A4_MM[1], dpi) - 2 * margin + gap,
        )
        return cls(max(1, room[0] // cell[0]), max(1, room[1] // cell[1]), cell, margin)

    @property
    def per_page(self) -> int:
        return self.columns * self.rows

    def origin(self, index: int) -> tuple[int, int]:
        row, column = divmod(index, self.columns)
        return self.margin + column * self.cell[0], self.margin + row * self.cell[1]


class Pages(Image.Image):
    """Pages drawn one at a time, as Pillow's PDF writer comes to each: a multi-frame image
    whose frame is drawn on ``seek``, as Pillow's own multi-frame files are read (its
    plugin guide). Pillow holds every page of a list until the PDF is written, and an A4
    page at 300 dpi is 8.7 MB (mode "1" keeps a byte a pixel): a thousand labels took
    770 MB and now hold one page."""

    def __init__(self, count: int, draw: Callable[[int], Image.Image]) -> None:
        super().__init__()
        if count < 1:
            raise ValueError("no labels to write")
        self._count = count
        self._draw = draw
        self._frame = -1
        self.seek(0)

    @property
    def n_frames(self) -> int:
        return self._count

    def seek(self, frame: int) -> None:
        if not 0 <= frame < self._count:
            raise EOFError("no such page")
        if frame != self._frame:
            page = self._draw(frame)
            self.im, self._mode, self._size = page.im, page.mode, page.size
            self._frame = frame

    def tell(self) -> int:
        return self._frame


def sheets(labels: Sequence[Label], layout: LabelLayout, *, roll: bool = False) -> Pages:
    """Pages of labels: A4 with as many as fit in a grid, each outlined to cut along, or
    (``roll``) one label per page."""
    if roll:
        return Pages(len(labels), lambda i: _drawn(labels[i], layout))
    grid = _Grid.a4(layout)
    size = (mm_to_dots(A4_MM[0], layout.dpi), mm_to_dots(A4_MM[1], layout.dpi))

    def sheet(number: int) -> Image.Image:
        page = Image.new("1", size, 1)
        draw = ImageDraw.Draw(page)
        first = number * grid.per_page
        for i, label in enumerate(labels[first : first + grid.per_page]):
            image = _drawn(label, layout)
            x, y = grid.origin(i)
            page.paste(image, (x, y))
            draw.rectangle((x, y, x + image.width - 1, y + image.height - 1), outline=0)
        return page

    return Pages(pages_needed(len(labels), layout), sheet)


def pages_needed(count: int, layout: LabelLayout) -> int:
    return math.ceil(count / _Grid.a4(layout).per_page)


def save_pdf(pages: Pages, target: Path | BinaryIO, dpi: int) -> None:
    """The pages as one PDF, to a file or (the status page's download) into memory."""
    pages.save(target, "PDF", resolution=dpi, save_all=True)


def sheet_pdf(labels: Sequence[Label], layout: LabelLayout) -> bytes:
    """The labels on A4 sheets, as the bytes of a PDF."""
    out = io.BytesIO()
    save_pdf(sheets(labels, layout), out, layout.dpi)
    return out.getvalue()


def save_pngs(labels: Sequence[Label], layout: LabelLayout, folder: Path) -> list[Path]:
    """One PNG per label, named by serial (or MAC), with its resolution recorded."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for label in labels:
        name = f"{label.serial:06d}" if label.serial is not None else label.mac.replace(":", "")
        path = folder / f"label-{name}.png"
        _drawn(label, layout).save(path, dpi=(layout.dpi, layout.dpi))
        paths.append(path)
    return paths


def _drawn(label: Label, layout: LabelLayout) -> Image.Image:
    """One label of a batch; a LabelError names the unit, for the one who asked for all."""
    try:
        return render(label, layout)
    except LabelError as e:
        who = f"unit {label.serial}" if label.serial is not None else label.mac
        raise LabelError(f"the label of {who} cannot be made: {e}") from None
