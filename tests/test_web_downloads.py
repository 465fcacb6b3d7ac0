"""The status page's downloads: /downloads/units.csv byte for byte what `flashjig report
--csv` writes, /downloads/labels.pdf the sheets `flashjig labels --pdf` makes, both for
?since= (400 for a WHEN the page cannot read), the PDF's 404 and 409 in words, and both
behind the page's password."""

import dataclasses
import sqlite3
import urllib.error
from datetime import date, datetime, timedelta

import pytest
from helpers import failed_result, flashjig, ok_result, record
from test_web_server import get

from flashjig.cli.report import run_report
from flashjig.station.journal import utc_timestamp
from flashjig.station.report import UNIT_FIELDS

UNITS = 20  # more than one A4 sheet of the shipped config's labels holds


def flash_units(journal, serials):
    """Units ``serials`` flashed ok (the first of them twice), and a module that failed."""
    for n in serials:
        mac = f"5c:cf:7f:00:00:{n:02x}"
        record(journal, ok_result(f"socket{n % 5 + 1}", mac=mac, serial=n, client_id=f"lamp-{n}"))
    first = serials[0]
    mac, client_id = f"5c:cf:7f:00:00:{first:02x}", f"lamp-{first}"
    record(journal, ok_result("socket1", mac=mac, serial=first, client_id=client_id))
    failed = dataclasses.replace(failed_result("socket2"), mac=f"5c:cf:7f:00:01:{first:02x}")
    record(journal, failed)


def backdate_to_yesterday(journal):
    """Every attempt so far started and finished a day ago."""
    yesterday = utc_timestamp(datetime.now() - timedelta(days=1))
    with sqlite3.connect(journal.path) as conn:
        conn.execute("UPDATE attempts SET started_at = ?, finished_at = ?", (yesterday,) * 2)
    conn.close()


def refused(page, path, auth=None):
    """The status and words of a request the page refuses."""
    with pytest.raises(urllib.error.HTTPError) as refusal:
        get(page, path, auth)
    return refusal.value.code, refusal.value.read().decode()


def test_the_units_csv_is_what_flashjig_report_writes(page, tmp_path):
    status_page, station, _ = page()
    flash_units(station.journal, [1, 2, 3])
    status, headers, body = get(status_page, "/downloads/units.csv")
    written = tmp_path / "report.csv"
    assert run_report(tmp_path / "state", since=None, csv_path=written) == 0
    assert status == 200 and body == written.read_bytes()
    lines = body.decode().split("\r\n")
    assert lines[0] == ",".join(UNIT_FIELDS)
    assert [line.split(",")[0] for line in lines[1:-1]] == ["1", "2", "3", ""]
    assert headers["Content-Type"] == "text/csv; charset=utf-8"
    assert headers["Content-Disposition"] == 'attachment; filename="flashjig-units-all.csv"'


def test_the_units_since_today_leave_yesterdays_out(page, tmp_path):
    status_page, station, _ = page()
    flash_units(station.journal, [1, 2])
    backdate_to_yesterday(station.journal)
    flash_units(station.journal, [3, 4])
    _, headers, body = get(status_page, "/downloads/units.csv?since=today")
    written = tmp_path / "today.csv"
    assert run_report(tmp_path / "state", since="today", csv_path=written) == 0
    assert body == written.read_bytes()
    serials = [line.split(",")[0] for line in body.decode().split("\r\n")[1:-1]]
    assert serials == ["3", "4", ""]
    name = f"flashjig-units-{date.today().isoformat()}.csv"
    assert headers["Content-Disposition"] == f'attachment; filename="{name}"'
    _, _, everything = get(status_page, "/downloads/units.csv")
    assert everything.count(b"\r\n") == 1 + 4 + 2  # the header, four units, two failed


def test_a_since_the_page_cannot_read_is_a_400_in_words(page):
    status_page, _, _ = page()
    for download in ("units.csv", "labels.pdf"):
        code, words = refused(status_page, f"/downloads/{download}?since=someday")
        assert code == 400 and "cannot read 'someday'" in words


def test_the_labels_pdf_has_the_pages_flashjig_labels_makes(page, station_config, tmp_path):
    status_page, station, _ = page()
    flash_units(station.journal, list(range(1, UNITS + 1)))
    status, headers, body = get(status_page, "/downloads/labels.pdf?since=today")
    assert status == 200 and body.startswith(b"%PDF")
    assert headers["Content-Type"] == "application/pdf"
    name = f"flashjig-labels-{date.today().isoformat()}.pdf"
    assert headers["Content-Disposition"] == f'attachment; filename="{name}"'
    run = flashjig(
        "labels",
        "--since",
        "today",
        "--pdf",
        str(tmp_path / "labels.pdf"),
        "--config",
        str(station_config.path),
        "--state-dir",
        str(tmp_path / "state"),
    )
    assert run.returncode == 0, run.stderr
    pages = body.count(b"/Type /Page\n")
    assert pages > 1 and f"{UNITS} labels on {pages} page(s)" in run.stdout
    assert pages == (tmp_path / "labels.pdf").read_bytes().count(b"/Type /Page\n")


def test_no_unit_flashed_ok_is_a_404_in_words(page):
    status_page, station, _ = page()
    assert refused(status_page, "/downloads/labels.pdf") == (
        404,
        "no unit flashed ok in the journal",
    )
    flash_units(station.journal, [1])
    backdate_to_yesterday(station.journal)
    assert refused(status_page, "/downloads/labels.pdf?since=today") == (
        404,
        "no unit flashed ok since today",
    )
    status, _, body = get(status_page, "/downloads/labels.pdf?since=yesterday")
    assert status == 200 and body.count(b"/Type /Page\n") == 1


def test_more_labels_than_the_page_makes_at_once_are_refused_in_words(page, monkeypatch):
    """Counted before a row is read: modules, a failed one too, as an upper bound."""
    from flashjig.web import server

    monkeypatch.setattr(server, "LABELS_AT_ONCE", 4)
    status_page, station, _ = page()
    flash_units(station.journal, [1, 2, 3])  # and a module that failed: four
    status, _, body = get(status_page, "/downloads/labels.pdf")
    assert status == 200 and body.startswith(b"%PDF")
    flash_units(station.journal, [4])
    assert refused(status_page, "/downloads/labels.pdf") == (
        400,
        "6 modules in the journal: the page makes at most 4 labels at once; "
        "flashjig labels --since WHEN --pdf FILE makes any number",
    )


def test_a_label_that_cannot_be_made_is_a_409_in_words(page):
    status_page, station, _ = page()
    record(station.journal, ok_result("socket1", serial=8, client_id="lamp\n0008"))
    assert refused(status_page, "/downloads/labels.pdf") == (
        409,
        "the label of unit 8 cannot be made: cannot draw 'lamp\\n0008' on it: can't measure "
        "length of multiline text",
    )


def test_the_downloads_need_the_password(page):
    status_page, station, _ = page(password="s3cret")
    flash_units(station.journal, [1])
    for download in ("units.csv", "labels.pdf"):
        path = f"/downloads/{download}"
        assert refused(status_page, path)[0] == 401
        assert refused(status_page, path, auth="flashjig:wrong")[0] == 401
        status, _, body = get(status_page, path, auth="flashjig:s3cret")
        assert status == 200 and body


def test_more_units_than_the_page_lists_at_once_are_refused_in_words(page, monkeypatch):
    from flashjig.web import server

    monkeypatch.setattr(server, "UNITS_AT_ONCE", 4)
    status_page, station, _ = page()
    flash_units(station.journal, [1, 2, 3])  # and a module that failed: four
    assert get(status_page, "/downloads/units.csv")[0] == 200
    flash_units(station.journal, [4])
    assert refused(status_page, "/downloads/units.csv") == (
        400,
        "6 modules in the journal: the page makes at most 4 units at once; "
        "flashjig report --since WHEN --csv FILE makes any number",
    )


def test_a_label_maker_that_fails_or_hangs_is_a_500_in_words_and_gone(
    page, monkeypatch, tmp_path, caplog
):
    """The PDF's process crashing, or hanging (killed after SHEET_TIMEOUT_S): said, logged,
    and no process left behind."""
    import os
    import stat

    from flashjig.web import server

    status_page, station, _ = page()
    flash_units(station.journal, [1])
    crashing = tmp_path / "crashing"
    crashing.write_text("#!/bin/sh\necho 'MemoryError' >&2\nexit 1\n")
    hanging = tmp_path / "hanging"
    pid = tmp_path / "pid"
    hanging.write_text(f"#!/bin/sh\necho $$ > {pid}\nexec sleep 60\n")
    for script in (crashing, hanging):
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(server.sys, "executable", str(crashing))
    assert refused(status_page, "/downloads/labels.pdf") == (
        500,
        "the labels' PDF could not be made: MemoryError",
    )
    monkeypatch.setattr(server, "SHEET_TIMEOUT_S", 0.5)
    monkeypatch.setattr(server.sys, "executable", str(hanging))
    assert refused(status_page, "/downloads/labels.pdf") == (
        500,
        "the labels' PDF could not be made: it took too long",
    )
    assert "status page: the labels' PDF could not be made: it took too long" in caplog.text
    child = int(pid.read_text())
    assert not os.path.exists(f"/proc/{child}"), "the hanging child was left behind"
    monkeypatch.undo()  # the real label maker, its own time
    assert get(status_page, "/downloads/labels.pdf")[0] == 200  # the next one is made
