"""``flashjig history``: the journal's attempts as JSON, CSV or a table."""

import csv
import io
import json
import os

import pytest
from helpers import IMAGES, failed_result, in_a_child_as_nobody, ok_result, record

from flashjig.cli.history import format_table, run_history
from flashjig.station.journal import JOURNAL_FILE, ROW_KEYS, Journal


@pytest.fixture
def populated(tmp_path, journal):
    record(journal, ok_result("s1"))
    record(journal, failed_result("s2"))
    return journal.path.parent


def test_history_json(populated, capsys):
    assert run_history(populated, since=None, fmt="json") == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(row["socket"], row["result"]) for row in rows] == [("s1", "ok"), ("s2", "failed")]
    assert list(rows[0]) == list(ROW_KEYS) and rows[0]["images"] == IMAGES


def test_history_csv(populated, capsys):
    assert run_history(populated, since="1d", fmt="csv") == 0
    out = capsys.readouterr().out
    rows = list(csv.DictReader(io.StringIO(out)))
    assert out.splitlines()[0].split(",") == list(ROW_KEYS)
    assert [row["result"] for row in rows] == ["ok", "failed"]
    assert json.loads(rows[0]["images"]) == IMAGES and rows[1]["mac"] == ""


def test_history_table(populated, capsys):
    assert run_history(populated, since="today", fmt="table") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["TIME", "SOCKET", "RESULT", "REASON", "MAC", "SIZE", "DURATION"]
    assert "s1" in lines[1] and "5c:cf:7f:01:02:03" in lines[1] and "7.2s" in lines[1]
    assert "no sync" in lines[2]
    assert lines[-1] == "2 attempts: 1 ok, 1 failed"


def test_history_of_an_empty_journal(tmp_path, capsys):
    Journal(tmp_path / JOURNAL_FILE).close()
    assert run_history(tmp_path, since=None, fmt="json") == 0
    assert json.loads(capsys.readouterr().out) == []
    assert run_history(tmp_path, since=None, fmt="csv") == 0
    assert capsys.readouterr().out == ",".join(ROW_KEYS) + "\n"
    assert format_table([]).splitlines()[-1] == "0 attempts: 0 ok, 0 failed"


def test_history_without_a_journal(tmp_path, capsys):
    assert run_history(tmp_path, since=None, fmt="table") == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        f"flashjig history: no journal at {tmp_path / JOURNAL_FILE} (has the station run?)\n"
    )


def test_history_bad_since(populated, capsys):
    assert run_history(populated, since="soon", fmt="json") == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("flashjig history: --since: cannot read 'soon'")
    assert captured.err.count("\n") == 1


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")
@pytest.mark.parametrize("command", ["history", "report", "backups"])
def test_someone_outside_the_group_is_told_who_may_read(tmp_path, journal, command):
    """The journal's directory is the station's: a user outside its group gets one line."""
    from flashjig.cli import build_parser

    state = journal.path.parent
    (state / "backups").mkdir()
    os.chmod(state, 0o750)
    os.chmod(tmp_path, 0o755)
    args = build_parser().parse_args([command, "--state-dir", str(state)])
    child = in_a_child_as_nobody(lambda: args.handler(args))
    assert child.code == 1, child.stderr
    (line,) = child.stderr.strip().splitlines()
    assert line.startswith(f"flashjig {command}: not allowed to read {state}")
    assert "member of the station's group" in line
