"""The morning report over the journal (``flashjig report``): attempts, reasons, sockets
and units, and the units as CSV."""

import json

import pytest

from flashjig.cli.report import run_report
from flashjig.station.journal import JOURNAL_FILE, Journal
from flashjig.station.report import render


def _result(socket, result, mac, reason=""):
    from flashjig.flashing.result import FlashResult, Outcome, Reason

    return FlashResult(
        socket=socket,
        result=Outcome(result),
        reason=Reason(reason) if reason else None,
        mac=mac,
        profile="p",
    )


def test_report_counts_reasons_sockets_and_units(tmp_path, capsys):
    with Journal(tmp_path / JOURNAL_FILE) as journal:
        for socket, result, mac, reason in [
            ("socket1", "ok", "aa", ""),
            ("socket2", "failed", "bb", "no sync"),
            ("socket2", "ok", "bb", ""),
            ("socket3", "failed", "cc", "verify failed"),
        ]:
            row = journal.start_attempt(socket=socket, profile="p", images=[], baud=1)
            journal.finish_attempt(row, _result(socket, result, mac, reason))
        rows = journal.attempts()
    text = render(rows)
    assert text.splitlines()[0] == "4 attempts: 2 ok, 2 failed; 3 modules, 2 good"
    assert "no sync" in text and "verify failed" in text
    assert "socket2        1 / 1" in text
    csv_path = tmp_path / "units.csv"
    assert run_report(tmp_path, since=None, csv_path=csv_path) == 0
    units = csv_path.read_text().splitlines()
    assert units[0].startswith("serial,mac,client_id") and len(units) == 4
    assert json.dumps("verify failed")[1:-1] in csv_path.read_text()


@pytest.mark.slow
def test_report_of_a_journal_that_is_not_one_is_one_line(tmp_path):
    """A damaged journal file: exit 1 and a line naming it, never a traceback."""
    from helpers import flashjig

    (tmp_path / "journal.sqlite3").write_bytes(b"not a database, whatever it was" * 100)
    for command in ("report", "history"):
        run = flashjig(command, "--state-dir", str(tmp_path))
        assert run.returncode == 1, run.stderr
        (line,) = run.stderr.strip().splitlines()
        assert line.startswith(f"flashjig {command}: cannot read the journal at {tmp_path}")


def test_report_lists_every_unit_handed_a_serial(tmp_path, capsys):
    """A serial handed out to an attempt that never finished (a kill mid-write) is a unit
    of the batch: the report lists it, with no result, beside the finished ones."""
    with Journal(tmp_path / JOURNAL_FILE) as journal:
        for mac, finish in (("aa", True), ("bb", False)):
            row = journal.start_attempt(socket="socket1", profile="p", images=[], baud=1)
            unit = journal.allocate_unit(
                mac, profile="p", serial_range=(1, 9), client_id=lambda n: f"node-{n}"
            )
            journal.record_module(row, mac=mac, serial=unit.serial, client_id=unit.client_id)
            if finish:
                journal.finish_attempt(row, _result("socket1", "ok", mac))
    with Journal(tmp_path / JOURNAL_FILE) as journal:  # the restart: bb's row interrupted
        pass
    csv_path = tmp_path / "units.csv"
    assert run_report(tmp_path, since=None, csv_path=csv_path) == 0
    out = capsys.readouterr().out
    assert "2 modules" in out
    units = csv_path.read_text().splitlines()[1:]
    assert [line.split(",")[:2] for line in units] == [["1", "aa"], ["2", "bb"]]
    assert units[1].split(",")[4] == "interrupted"
