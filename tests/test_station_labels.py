"""Labels on real printer bytes: a Brother QL's raster (read back with brother_ql's own
reader), a Zebra's ZPL and a CUPS queue's file, each decoded back into the label and its QR
code read with zxing-cpp; and an overnight batch of 25 through the station, printing as
modules pass, with the printer off for the first part: flashing never waits, the labels
queue in the journal (``flashjig labels --pending``) and print once the printer is back.
A label that cannot be made fails alone: marked failed with why, the queue goes on, the
status says so."""

import json
import os
import re
import stat

import pytest
import yaml
import zxingcpp
from brother_ql.reader import BrotherQLReader
from conftest import write_station_config
from helpers import build_path, flash_sockets, flashjig, ok_result, record, state_of, wait_for
from PIL import Image

from flashjig.cli.statusview import render as render_status
from flashjig.config import LabelLayout, load_config
from flashjig.hardware import printers
from flashjig.hardware.printers import BrotherQL, Cups, PrinterError, Zebra
from flashjig.simulation.station import simulated_station
from flashjig.station import printing
from flashjig.station.journal import JOURNAL_FILE, Journal
from flashjig.station.labels import Label, render
from flashjig.station.printing import LabelSpooler
from flashjig.station.status import SocketState

LABEL = Label(42, "lamp-0042", "5c:cf:7f:12:34:56", "bench-1", "demo", "ESP8266EX", "2026-12-02")


def qr_payloads(image):
    return [json.loads(code.text) for code in zxingcpp.read_barcodes(image.convert("L"))]


def brother_pages(device, tmp_path):
    """The labels a Brother QL would print from the bytes it was sent."""
    reader = BrotherQLReader(str(device))
    reader.filename_fmt = str(tmp_path / "page{counter:04d}.png")
    reader.analyse()
    return [Image.open(path) for path in sorted(tmp_path.glob("page*.png"))]


def zpl_labels(data: bytes):
    """The labels a Zebra would print from the ZPL it was sent: each ^GFA field as dots."""
    out = []
    for total, row_bytes, body in re.findall(rb"\^GFA,(\d+),\d+,(\d+),([0-9A-F]+)\^FS", data):
        bits = bytes(b ^ 0xFF for b in bytes.fromhex(body.decode()))
        width, height = int(row_bytes) * 8, int(total) // int(row_bytes)
        out.append(Image.frombytes("1", (width, height), bits))
    return out


def test_a_brother_ql_gets_a_raster_of_the_label(tmp_path):
    device = tmp_path / "lp0"
    device.touch()  # a file stands in for the device node, which the printer's driver makes
    printer = BrotherQL(str(device), model="QL-800", label="62x29")
    printer.print(render(LABEL, LabelLayout(), printer.canvas(LabelLayout())))
    data = device.read_bytes()
    # Brother's raster reference: switch to raster mode (ESC i a 1) ... print with feed (1A).
    assert b"\x1bia\x01" in data[:8] and data.endswith(b"\x1a")
    (page,) = brother_pages(device, tmp_path)
    assert page.size == (720, 271)  # the QL's 90 bytes a row, 62 x 29 mm's printable rows
    assert qr_payloads(page) == [json.loads(LABEL.payload())]


def test_a_zebra_gets_zpl_holding_the_label(tmp_path):
    device = tmp_path / "zebra"
    device.touch()
    printer = Zebra(str(device))
    printer.print(render(LABEL, LabelLayout(dpi=203), printer.canvas(LabelLayout(dpi=203))))
    data = device.read_bytes()
    assert data.startswith(b"^XA") and data.rstrip().endswith(b"^XZ")
    (label,) = zpl_labels(data)
    assert qr_payloads(label) == [json.loads(LABEL.payload())]


def test_a_cups_queue_gets_the_label_through_lp(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    lp = bin_dir / "lp"
    # A stand-in for CUPS's lp: it keeps what it is given, as the queue would.
    lp.write_text(f'#!/bin/sh\necho "$@" > {tmp_path}/args\ncp "$5" {tmp_path}/printed.png\n')
    lp.chmod(lp.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    Cups("labels-62").print(render(LABEL, LabelLayout()))
    assert (tmp_path / "args").read_text().startswith("-d labels-62 -o fit-to-page ")
    assert qr_payloads(Image.open(tmp_path / "printed.png")) == [json.loads(LABEL.payload())]
    lp.write_text("#!/bin/sh\necho 'lp: The printer or class does not exist.' >&2\nexit 1\n")
    with pytest.raises(PrinterError, match="lp -d labels-62: lp: The printer or class does not"):
        Cups("labels-62").print(render(LABEL, LabelLayout()))


def test_a_printer_that_is_not_there_says_so(tmp_path):
    with pytest.raises(PrinterError, match="cannot print to .*/nothing/lp0: No such file"):
        Zebra(str(tmp_path / "nothing" / "lp0")).print(render(LABEL, LabelLayout()))
    with pytest.raises(PrinterError, match="cannot print to tcp://127.0.0.1:9: "):
        Zebra("tcp://127.0.0.1:9").print(render(LABEL, LabelLayout()))
    # An address the loader refuses, given anyway: the printer's error, not a crash.
    with pytest.raises(PrinterError, match="99999.* is not a TCP port"):
        Zebra("tcp://127.0.0.1:99999").print(render(LABEL, LabelLayout()))


@pytest.mark.parametrize("kind", ["zebra", "brother_ql"])
def test_an_unplugged_printer_creates_no_file_and_says_so_in_one_line(tmp_path, kind):
    """Unplugged, /dev/usb/lp0 is gone while /dev/usb/ stays (other usbmisc nodes, and root
    may write there): printing must not leave a regular file in the device's place, which
    would swallow every label after it, even with the printer back."""
    usb = tmp_path / "usb"
    usb.mkdir()
    device = usb / "lp0"
    printer = Zebra(str(device))
    if kind == "brother_ql":
        printer = BrotherQL(str(device), model="QL-800", label="62x29")
    with pytest.raises(PrinterError) as raised:
        printer.print(render(LABEL, LabelLayout(), printer.canvas(LabelLayout())))
    assert list(usb.iterdir()) == []
    message = str(raised.value)
    assert message == (
        f"cannot print to {device}: No such file or directory (is the printer on and plugged in?)"
    )


def test_a_regular_file_in_the_devices_place_is_not_printed_into(tmp_path, monkeypatch):
    """An older flashjig's open(path, "ab") left a regular file at /dev/usb/lp0 while the
    printer was off; labels must not go on disappearing into it (tmp_path plays /dev)."""
    monkeypatch.setattr(printers, "DEV_DIR", f"{tmp_path}/")
    device = tmp_path / "usb" / "lp0"
    device.parent.mkdir()
    device.write_bytes(b"")
    with pytest.raises(PrinterError, match="lp0: a regular file, not the printer's device"):
        Zebra(str(device)).print(render(LABEL, LabelLayout()))
    assert device.read_bytes() == b""


# -- the spooler ----------------------------------------------------------------------------

TOO_LONG = "x" * 2400  # a unit record holds it, no QR code does


def queue(journal, serial, client_id=None):
    """Unit ``serial`` flashed ok and its label queued, as the station records it."""
    client_id = client_id or f"lamp-{serial:04d}"
    mac = f"5c:cf:7f:00:00:{serial:02x}"
    return record(
        journal, ok_result("socket1", mac=mac, serial=serial, client_id=client_id), label=True
    )


def printed_serials(device):
    return [p["serial"] for label in zpl_labels(device.read_bytes()) for p in qr_payloads(label)]


@pytest.fixture
def journal(tmp_path):
    with Journal(tmp_path / JOURNAL_FILE, station="bench-1") as journal:
        yield journal


@pytest.fixture
def spool(journal, tmp_path):
    """A spooler on a Zebra (a file), started; stopped after the test."""
    started = []
    (tmp_path / "zebra").touch()

    def start(printer=None):
        spooler = LabelSpooler(journal, printer or Zebra(str(tmp_path / "zebra")), LabelLayout())
        spooler.start()
        started.append(spooler)
        return spooler

    yield start
    for spooler in started:
        spooler.stop()


def test_a_label_that_cannot_be_made_fails_alone_and_the_queue_goes_on(journal, spool, tmp_path):
    queue(journal, 1)
    queue(journal, 2, TOO_LONG)  # segno: DataOverflowError
    queue(journal, 3, "lamp\n0003")  # Pillow: cannot measure multi-line text
    queue(journal, 4)
    spooler = spool()
    wait_for(lambda: not journal.pending_labels(), timeout=10, what="the queue printed")
    assert printed_serials(tmp_path / "zebra") == [1, 4]
    failed = {row.serial: (tries, error) for row, tries, error in journal.failed_labels()}
    assert failed == {
        2: (1, "no QR code holds its 2535 bytes at error correction M"),
        3: (1, "cannot draw 'lamp\\n0003' on it: can't measure length of multiline text"),
    }
    assert spooler.problem == ""
    queue(journal, 5)  # the spooler lives on
    spooler.wake()
    wait_for(lambda: not journal.pending_labels(), timeout=10, what="unit 5's label printed")
    assert printed_serials(tmp_path / "zebra") == [1, 4, 5]
    spooler.stop()
    # Restarted, it does not try them again: they are not first in the queue any more.
    queue(journal, 6)
    spool()
    wait_for(lambda: not journal.pending_labels(), timeout=10, what="unit 6's label printed")
    assert printed_serials(tmp_path / "zebra") == [1, 4, 5, 6]
    assert [tries for _, tries, _ in journal.failed_labels()] == [1, 1]


class Flaky(Zebra):
    """A Zebra whose encoding fails once, in a way nobody foresaw."""

    def __init__(self, device):
        super().__init__(device)
        self.failed = False

    def encode(self, label):
        if not self.failed:
            self.failed = True
            raise KeyError("a bug")
        return super().encode(label)


def test_any_error_of_one_label_fails_that_label_only(journal, spool, tmp_path):
    queue(journal, 1)
    queue(journal, 2)
    spool(Flaky(str(tmp_path / "zebra")))
    wait_for(lambda: not journal.pending_labels(), timeout=10, what="the queue printed")
    assert printed_serials(tmp_path / "zebra") == [2]
    ((row, _, error),) = journal.failed_labels()
    assert (row.serial, error) == (1, "cannot make it: KeyError: 'a bug'")


def test_a_printer_that_is_off_keeps_its_labels_queued(journal, spool, tmp_path):
    queue(journal, 1)
    queue(journal, 2)
    device = tmp_path / "usb" / "lp0"
    spooler = spool(Zebra(str(device)))
    wait_for(lambda: journal.pending_labels()[0][1], timeout=10, what="a try")
    (first, tries, error), (second, *_) = journal.pending_labels()
    assert (first.serial, tries, second.serial) == (1, 1, 2)
    assert "No such file or directory" in error and error in spooler.problem
    assert journal.failed_labels() == []
    device.parent.mkdir()  # switched on: the driver makes the node
    device.touch()
    spooler.wake()
    wait_for(lambda: not journal.pending_labels(), timeout=10, what="the queue printed")
    assert printed_serials(device) == [1, 2] and spooler.problem == ""


def test_the_status_counts_the_failed_labels_and_says_why(tmp_path):
    config = batch_config(tmp_path, {"kind": "zebra", "device": str(tmp_path / "zebra")})
    state = tmp_path / "state"
    with Journal(state / JOURNAL_FILE, station="bench-1") as journal:
        queue(journal, 7, TOO_LONG)  # flashed under an older config
    with simulated_station(config, state) as (station, _, _):
        labels = wait_for(
            lambda: station.status().labels.failed and station.status().labels.as_dict(),
            timeout=10,
            what="the label failed",
        )
        status = station.status().as_dict()
    assert labels == {
        "waiting": 0,
        "failed": 1,
        "last_failure": "no QR code holds its 2535 bytes at error correction M",
        "problem": "",
    }
    assert (
        "! labels: 0 waiting; 1 failed, the last: no QR code holds its 2535 bytes"
        in render_status(status)
    )


# -- an overnight batch ---------------------------------------------------------------------


def batch_config(tmp_path, printer):
    image = build_path(tmp_path)
    path = write_station_config(
        tmp_path,
        [(0, image)],
        identity={"mode": "record", "offset": 0xFB000, "template": "lamp-{serial:04d}"},
        boot_check=None,
    )
    data = yaml.safe_load(path.read_text())
    data["profiles"][data["active_profile"]].pop("boot_check", None)
    data["station"]["labels"] = {"print_on": "ok", "printer": printer}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_config(path)


def run_batch(station, hardware, rounds):
    names = list(station.sockets)
    for _ in range(rounds):
        flash_sockets(station, hardware, names)
        for name in names:
            hardware.remove(name)
        wait_for(
            lambda: all(state_of(station, n) is SocketState.EMPTY for n in names),
            timeout=10,
            what="the tray emptied",
        )


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["brother_ql", "zebra"])
def test_25_units_overnight_25_labels_whose_codes_are_the_journals_units(
    tmp_path, monkeypatch, kind
):
    monkeypatch.setattr(printing, "RETRY_S", 0.2)
    spool = tmp_path / "usb"  # the printer's device: not there until it is switched on
    device = spool / "lp0"
    printer = {"kind": kind, "device": str(device)}
    if kind == "brother_ql":
        printer.update(model="QL-800", label="62x29")
    config = batch_config(tmp_path, printer)
    state = tmp_path / "state"
    with simulated_station(config, state) as (station, hardware, journal):
        run_batch(station, hardware, 3)  # 15 units while the printer is off
        assert len(journal.pending_labels()) == 15
        pending = flashjig("labels", "--pending", "--state-dir", str(state))
        assert "15 label(s) wait for the printer" in pending.stdout
        assert "No such file or directory" in pending.stdout
        spool.mkdir()  # switched on
        device.touch()
        run_batch(station, hardware, 2)
        wait_for(lambda: not journal.pending_labels(), timeout=30, what="labels printed")
        units = {row.serial: row for row in journal.attempts() if row.result == "ok"}
    assert len(units) == 25
    data = device.read_bytes()
    labels = brother_pages(device, tmp_path) if kind == "brother_ql" else zpl_labels(data)
    payloads = [payload for label in labels for payload in qr_payloads(label)]
    assert len(payloads) == 25
    assert {p["serial"] for p in payloads} == set(units)
    for payload in payloads:
        row = units[payload["serial"]]
        assert (payload["client_id"], payload["mac"]) == (row.client_id, row.mac)
    assert "no label waits" in flashjig("labels", "--pending", "--state-dir", str(state)).stdout


def test_a_pdf_draws_each_page_once_as_the_writer_comes_to_it():
    """Pillow holds every page of a list until the PDF is written (8.7 MB an A4 page at
    300 dpi): Pages draws them one at a time while it writes, each once."""
    import io

    from flashjig.station.labels import Pages, pages_needed, save_pdf, sheets

    out = io.BytesIO()
    drawn_at = []  # each page drawn, and how much of the PDF was written then

    def draw(number):
        drawn_at.append((number, out.tell()))
        return Image.new("1", (200, 100), number % 2)

    save_pdf(Pages(4, draw), out, 300)
    assert [n for n, _ in drawn_at] == [0, 1, 2, 3]
    written = [at for _, at in drawn_at[1:]]  # the first is drawn before the writer starts
    assert 0 < written[0] < written[1] < written[2], drawn_at
    assert out.getvalue().count(b"/Type /Page\n") == 4
    units = [
        Label(n, f"lamp-{n}", f"5c:cf:7f:00:00:{n:02x}", "jig-1", "demo", "ESP8266EX", "2026-12-07")
        for n in range(60)
    ]
    assert sheets(units, LabelLayout()).n_frames == pages_needed(60, LabelLayout()) >= 3
    assert sheets(units, LabelLayout(), roll=True).n_frames == 60
