"""``flashjig labels``: a label for every unit flashed ok, its QR code read back from the
rendered PNG with a real decoder (zxing-cpp) and compared with the journal; A4 sheets and
rolls as PDF, a chosen few serials, the config's layout, the print queue (``--pending``)
and the errors."""

import json

import pytest
import zxingcpp
from helpers import failed_result, flashjig, ok_result, record
from PIL import Image

from flashjig.station.journal import JOURNAL_FILE, Journal

UNITS = 25


@pytest.fixture
def batch(tmp_path):
    """A night's journal: 25 units flashed ok (one of them twice), and one failure."""
    with Journal(tmp_path / JOURNAL_FILE, station="bench-1") as journal:
        for n in range(1, UNITS + 1):
            mac = f"5c:cf:7f:00:00:{n:02x}"
            result = ok_result(f"socket{n % 5 + 1}", mac=mac, serial=n, client_id=f"lamp-{n:04d}")
            record(journal, result)
        record(
            journal, ok_result("socket1", mac="5c:cf:7f:00:00:01", serial=1, client_id="lamp-0001")
        )
        record(journal, failed_result("socket2"))
        rows = [row for row in journal.attempts() if row.result == "ok"]
    return tmp_path, {row.serial: row for row in rows}


def decoded(path):
    (code,) = zxingcpp.read_barcodes(Image.open(path).convert("L"))
    return json.loads(code.text)


def test_every_unit_gets_one_label_whose_qr_code_is_its_journal_row(batch, tmp_path):
    state, rows = batch
    out = tmp_path / "labels"
    run = flashjig("labels", "--png", str(out), "--state-dir", str(state))
    assert run.returncode == 0, run.stderr
    assert f"{UNITS} labels written" in run.stdout
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) == UNITS
    for path in pngs:
        payload = decoded(path)
        row = rows[payload["serial"]]
        assert payload == {
            "v": 1,
            "serial": row.serial,
            "client_id": row.client_id,
            "mac": row.mac,
            "station": "bench-1",
            "profile": "demo",
            "chip": "ESP8266EX",
            "date": row.finished_at[:10],
        }
        assert path.name == f"label-{row.serial:06d}.png"


def test_a_sheet_is_a4_pages_and_a_roll_a_page_a_label(batch, tmp_path):
    state, _ = batch
    sheet = tmp_path / "sheet.pdf"
    run = flashjig("labels", "--pdf", str(sheet), "--state-dir", str(state))
    assert run.returncode == 0, run.stderr
    # 62 x 29 mm labels on A4 (10 mm margins, 3 mm gaps): 2 across, 8 down, 16 a page.
    assert f"{UNITS} labels on 2 page(s)" in run.stdout
    assert (
        sheet.read_bytes().startswith(b"%PDF") and sheet.read_bytes().count(b"/Type /Page\n") == 2
    )
    roll = tmp_path / "roll.pdf"
    run = flashjig("labels", "--pdf", str(roll), "--roll", "--state-dir", str(state))
    assert run.returncode == 0, run.stderr
    assert roll.read_bytes().count(b"/Type /Page\n") == UNITS


def test_chosen_serials_only(batch, tmp_path):
    state, _ = batch
    out = tmp_path / "few"
    run = flashjig("labels", "--serial", "3", "17", "--png", str(out), "--state-dir", str(state))
    assert run.returncode == 0, run.stderr
    assert sorted(decoded(p)["serial"] for p in out.glob("*.png")) == [3, 17]
    run = flashjig("labels", "--serial", "3", "99", "--png", str(out), "--state-dir", str(state))
    assert run.returncode == 1
    assert "no unit flashed ok with serial 99" in run.stderr


def test_the_layout_comes_from_the_config(batch, tmp_path, shipped_copy):
    state, _ = batch
    text = shipped_copy.read_text().replace(
        "station:\n",
        "station:\n  labels:\n    layout: {width_mm: 50, height_mm: 25, dpi: 203}\n",
        1,
    )
    shipped_copy.write_text(text)
    out = tmp_path / "small"
    run = flashjig(
        "labels",
        "--serial",
        "5",
        "--png",
        str(out),
        "--config",
        str(shipped_copy),
        "--state-dir",
        str(state),
    )
    assert run.returncode == 0, run.stderr
    (path,) = out.glob("*.png")
    assert Image.open(path).size == (round(50 * 203 / 25.4), round(25 * 203 / 25.4))
    assert decoded(path)["serial"] == 5


def test_no_journal_and_no_output_choice_are_said(tmp_path):
    run = flashjig("labels", "--pdf", str(tmp_path / "x.pdf"), "--state-dir", str(tmp_path))
    assert run.returncode == 1 and "no journal" in run.stderr
    run = flashjig("labels", "--state-dir", str(tmp_path))
    assert (
        run.returncode == 2
        and "one of the arguments --pdf --png --pending is required" in run.stderr
    )


def queued(journal, serial):
    """Unit ``serial`` flashed ok with its label queued for the printer."""
    mac = f"5c:cf:7f:00:01:{serial:02x}"
    result = ok_result("socket1", mac=mac, serial=serial, client_id=f"lamp-{serial}")
    return record(journal, result, label=True)


def test_pending_lists_the_waiting_labels_then_the_failed_ones_with_why(tmp_path):
    with Journal(tmp_path / JOURNAL_FILE, station="bench-1") as journal:
        bad, off, new = (queued(journal, n) for n in (1, 2, 3))
        journal.label_failed(bad.id, "no QR code holds its 2535 bytes at error correction M")
        journal.label_not_printed(off.id, "cannot print to /dev/usb/lp0: No such file")
    run = flashjig("labels", "--pending", "--state-dir", str(tmp_path))
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "2 label(s) wait for the printer:"
    assert lines[1].endswith("unit 2  (tried 1x: cannot print to /dev/usb/lp0: No such file)")
    assert lines[2].endswith(f"socket1  {new.mac}  unit 3  (not tried yet)")
    assert lines[3] == "1 label(s) failed, not printed (they cannot be made):"
    assert lines[4].endswith(
        f"socket1  {bad.mac}  unit 1  (failed: no QR code holds its 2535 bytes at error "
        "correction M)"
    )
    assert len(lines) == 5


def test_a_label_that_cannot_be_made_is_said_in_one_line(tmp_path):
    with Journal(tmp_path / JOURNAL_FILE, station="bench-1") as journal:
        record(journal, ok_result("socket1", serial=8, client_id="lamp\n0008"))
    for out in ("--png", "--pdf"):
        run = flashjig("labels", out, str(tmp_path / "out"), "--state-dir", str(tmp_path))
        assert run.returncode == 1
        assert run.stderr == (
            "flashjig labels: the label of unit 8 cannot be made: cannot draw 'lamp\\n0008' on "
            "it: can't measure length of multiline text\n"
        )
