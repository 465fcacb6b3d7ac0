"""The morning report over the journal (``flashjig report``): attempts, reasons, sockets
and units, and the units as CSV."""

import json

import pytest

from flashjig.cli.report import run_report
from flashjig.station.journal import JOURNAL_FILE, Counts, Journal
from flashjig.station.report import render


def _result(socket, result, mac, reason=""):
    from flashjig.flashing.result import FlashResult, Outcome, Reason

    return FlashResult(
        socket=socket,
        outcome=Outcome(result),
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
        text = render(journal)
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


def _naive(rows, allocated):
    """The report as the rows say it, added up one row at a time (what the report did
    before it was done in SQL): the reference for the SQL."""
    from collections import Counter

    from flashjig.flashing.result import FAILED_OUTCOMES, Outcome

    finished = [r for r in rows if r.result is not Outcome.STARTED]
    failed = [r for r in finished if r.result in FAILED_OUTCOMES]
    last = {}
    for r in finished:
        if r.mac:
            last[r.mac] = r
    macs = set(last) | {u.mac for u in allocated}
    per_hour = Counter(
        ((r.finished_at or r.started_at)[:13], "ok" if r.result is Outcome.OK else "failed")
        for r in finished
    )
    return {
        "attempts": len(finished),
        "ok": sum(1 for r in finished if r.result is Outcome.OK),
        "failed": len(failed),
        "modules": len(macs),
        "good": sum(1 for mac in macs if mac in last and last[mac].result is Outcome.OK),
        "by_reason": dict(Counter(str(r.reason or r.result) for r in failed)),
        "per_hour": dict(per_hour),
        "unit_macs": sorted(macs),
    }


@pytest.mark.parametrize("since", [None, "recent"])
def test_the_report_added_up_in_sql_is_the_rows_own(tmp_path, since):
    """A random journal: retries, modules coming back, units handed serials and never
    finished, attempts still open, several sockets and reasons; the SQL report equals the
    rows added up one by one, with and without ``since``."""
    import random
    from datetime import datetime

    from flashjig.station.report import summary

    rng = random.Random(7)
    reasons = ["no sync", "verify failed", "timeout", "wrong chip"]
    with Journal(tmp_path / JOURNAL_FILE) as journal:
        for i in range(400):
            socket = f"socket{rng.randint(1, 5)}"
            mac = f"5c:cf:7f:00:00:{rng.randrange(120):02x}"
            row = journal.start_attempt(socket=socket, profile="p", images=[], baud=1)
            if rng.random() < 0.3:
                unit = journal.allocate_unit(
                    mac, profile="p", serial_range=(1, 10_000), client_id=lambda n: f"n-{n}"
                )
                journal.record_module(row, mac=mac, serial=unit.serial, client_id=unit.client_id)
            if i % 97 == 3:
                continue  # still open
            outcome = rng.choice(["ok", "ok", "ok", "failed", "cancelled"])
            reason = rng.choice(reasons) if outcome == "failed" else ""
            journal.finish_attempt(row, _result(socket, outcome, mac, reason))
        cut = None
        if since:
            rows = journal.attempts()
            cut = datetime.fromisoformat(rows[250].started_at.replace("Z", "+00:00"))
        report = summary(journal, cut)
        expected = _naive(journal.attempts(since=cut), journal.units(since=cut))
        shown = summary(journal, cut, units_limit=10)
    assert expected["attempts"] > 0
    got = {key: report[key] for key in ("attempts", "ok", "failed", "modules", "good")}
    assert got == {key: expected[key] for key in got}
    assert report["by_reason"] == expected["by_reason"]
    hours = {(h["hour"], k): h[k] for h in report["per_hour"] for k in ("ok", "failed") if h[k]}
    assert hours == expected["per_hour"]
    assert sorted(u["mac"] for u in report["units"]) == expected["unit_macs"]
    assert len(shown["units"]) == 10 and shown["modules"] == report["modules"]


def test_the_whole_journals_counts_follow_every_change(tmp_path):
    """counts() of the whole journal adds up only what was added since it last looked:
    attempts still open in the middle, finished later, are counted when they finish."""
    with Journal(tmp_path / JOURNAL_FILE) as journal:
        opened = []
        for i in range(30):
            row = journal.start_attempt(socket="socket1", profile="p", images=[], baud=1)
            if i % 7 == 0:
                opened.append(row)
            else:
                journal.finish_attempt(row, _result("socket1", "ok" if i % 3 else "failed", "aa"))
            naive = _naive(journal.attempts(), [])
            assert journal.counts() == Counts(naive["ok"], naive["failed"], i + 1)
        for row in opened:
            journal.finish_attempt(row, _result("socket1", "ok", "aa"))
        naive = _naive(journal.attempts(), [])
        assert journal.counts() == Counts(naive["ok"], naive["failed"], 30)
