"""Label printers, each taking a rendered label (a 1-bit Pillow image at the printer's
resolution) and sending what the printer reads:

- a Brother QL: its raster protocol, made by brother_ql (``convert``: model, label size,
  cut), written to its device (``/dev/usb/lp0``, the kernel's usblp) or to tcp://host:9100
  on a networked one;
- a Zebra: ZPL, the label as one graphic field (``^GFA``, hex rows of 8 dots a byte,
  1 = black; Zebra's ZPL II Programming Guide), so it prints what the other printers
  print, to its raw device or port 9100;
- any CUPS printer: the label as a PNG through ``lp -d QUEUE``.

A printer that is off, unplugged, out of labels or refusing says so as a PrinterError: the
station keeps the label queued and flashing goes on. Not tested here with a printer: the
bytes are (a file stands in for the device, the tests decode them back into the label);
that a QL-800 or a ZD421 prints them is from brother_ql's and Zebra's documentation.
"""

from __future__ import annotations

import abc
import io
import os
import socket
import stat
import subprocess
import tempfile
from pathlib import Path

from PIL import Image

from flashjig.config import LabelLayout, PrinterConfig, PrinterKind
from flashjig.config.model import tcp_address
from flashjig.errors import FlashjigError

CONNECT_TIMEOUT_S = 5.0
DEV_DIR = "/dev/"  # where device nodes live, and regular files have no business


def mm_to_dots(mm: float, dpi: int) -> int:
    return round(mm * dpi / 25.4)


class PrinterError(FlashjigError):
    """The label did not reach the printer; why, in words."""


class LabelPrinter(abc.ABC):
    def canvas(self, layout: LabelLayout) -> tuple[int, int]:
        """The label's size in dots, as this printer prints it."""
        return mm_to_dots(layout.width_mm, layout.dpi), mm_to_dots(layout.height_mm, layout.dpi)

    @abc.abstractmethod
    def encode(self, label: Image.Image) -> bytes:
        """What the printer is sent for one label."""

    @abc.abstractmethod
    def send(self, data: bytes) -> None:
        """Send one label's bytes; PrinterError when they do not reach the printer."""

    def print(self, label: Image.Image) -> None:
        """Send one label; PrinterError when it cannot be."""
        self.send(self.encode(label))


class _RawPrinter(LabelPrinter):
    """A printer written to as a device file or a TCP port."""

    def __init__(self, device: str) -> None:
        self.device = device

    def send(self, data: bytes) -> None:
        try:
            if self.device.startswith("tcp://"):
                address = tcp_address(self.device)
                with socket.create_connection(address, timeout=CONNECT_TIMEOUT_S) as link:
                    link.sendall(data)
            else:
                self._write_device(data)
        except FileNotFoundError as e:  # no node: the printer is off or unplugged
            raise PrinterError(
                f"cannot print to {self.device}: {e.strerror} (is the printer on and plugged in?)"
            ) from None
        except OSError as e:
            raise PrinterError(f"cannot print to {self.device}: {e.strerror or e}") from None
        except ValueError as e:  # an address the loader would refuse
            raise PrinterError(f"cannot print to {self.device}: {e}") from None

    def _write_device(self, data: bytes) -> None:
        """Write to the printer's device node, never creating it: open(path, "ab") would
        make a regular file of that name while the printer is unplugged (wherever the
        directory is writable: /dev/usb/ for root), and every label after would go into
        that file instead of the printer once it is back. O_APPEND lets a plain file stand
        in for the device (the tests); O_NOCTTY keeps a serial printer (/dev/ttyUSBn) from
        becoming the controlling terminal."""
        fd = os.open(self.device, os.O_WRONLY | os.O_APPEND | os.O_NOCTTY | os.O_CLOEXEC)
        try:
            if self.device.startswith(DEV_DIR) and stat.S_ISREG(os.fstat(fd).st_mode):
                # What an older flashjig left in /dev while the printer was unplugged; the
                # printer's driver cannot make its node there until it is gone.
                raise PrinterError(
                    f"cannot print to {self.device}: a regular file, not the printer's device"
                    f" (left while the printer was unplugged?): remove it, replug the printer"
                )
            rest = memoryview(data)
            while rest:  # a device may take less than it is given
                rest = rest[os.write(fd, rest) :]
        finally:
            os.close(fd)


class BrotherQL(_RawPrinter):
    def __init__(self, device: str, *, model: str, label: str) -> None:
        super().__init__(device)
        self.model = model
        self.label = label

    def canvas(self, layout: LabelLayout) -> tuple[int, int]:
        """A die-cut label's printable dots (300 dpi), as brother_ql wants the image; an
        endless roll's width and the layout's length."""
        from brother_ql.devicedependent import label_type_specs

        width, height = label_type_specs[self.label]["dots_printable"]
        return width, height or mm_to_dots(layout.height_mm, 300)

    def encode(self, label: Image.Image) -> bytes:
        from brother_ql.conversion import convert
        from brother_ql.raster import BrotherQLRaster

        raster = BrotherQLRaster(self.model)
        raster.exception_on_warning = True
        try:
            data: bytes = convert(raster, [label], self.label, rotate="auto", cut=True)
        except Exception as e:  # brother_ql raises bare Exceptions for sizes it cannot fit
            raise PrinterError(f"brother_ql cannot make a {self.label} label: {e}") from None
        return data


class Zebra(_RawPrinter):
    def encode(self, label: Image.Image) -> bytes:
        return zpl(label)


def zpl(label: Image.Image) -> bytes:
    """One label as ZPL: a graphic field of the whole image at the origin, then print."""
    bitmap = label.convert("1")
    row_bytes = -(-bitmap.width // 8)
    # Pillow packs "1" images 8 pixels a byte, MSB first, 1 = white: ZPL's 1 is black.
    packed = bytes(b ^ 0xFF for b in bitmap.tobytes())
    total = row_bytes * bitmap.height
    body = packed.hex().upper()
    return (
        f"^XA^PW{bitmap.width}^LL{bitmap.height}^FO0,0^GFA,{total},{total},{row_bytes},"
        f"{body}^FS^XZ\n"
    ).encode()


class Cups(LabelPrinter):
    def __init__(self, queue: str) -> None:
        self.queue = queue

    def encode(self, label: Image.Image) -> bytes:
        out = io.BytesIO()
        dpi = label.info.get("dpi", (300, 300))
        label.save(out, "PNG", dpi=dpi)
        return out.getvalue()

    def send(self, data: bytes) -> None:
        with tempfile.TemporaryDirectory(prefix="flashjig-label-") as tmp:
            path = Path(tmp) / "label.png"
            path.write_bytes(data)
            try:
                done = subprocess.run(
                    ["lp", "-d", self.queue, "-o", "fit-to-page", str(path)],
                    capture_output=True,
                    text=True,
                    timeout=30,
                )
            except (OSError, subprocess.TimeoutExpired) as e:
                raise PrinterError(f"cannot run lp for {self.queue}: {e}") from None
        if done.returncode != 0:
            why = (done.stderr.strip() or f"exit {done.returncode}").splitlines()[0]
            raise PrinterError(f"lp -d {self.queue}: {why}")


def printer_for(config: PrinterConfig) -> LabelPrinter:
    if config.kind == PrinterKind.CUPS:
        assert config.queue is not None  # the loader asks for it
        return Cups(config.queue)
    assert config.device is not None  # the loader asks for it
    if config.kind == PrinterKind.ZEBRA:
        return Zebra(config.device)
    return BrotherQL(config.device, model=config.model, label=config.label)
