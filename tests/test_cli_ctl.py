"""``flashjig ctl``: the request each action sends, and a running simulated station driven
by it (insert with a fault, press, an unknown socket refused in one line, drain before an
upgrade)."""

import subprocess
import sys

import pytest
from helpers import flashing_socket1, flashjig, wait_for

from flashjig.cli import build_parser
from flashjig.cli.ctl import payload
from flashjig.station.journal import JOURNAL_FILE, Journal


@pytest.mark.slow
def test_ctl_refuses_unknown_socket_with_one_line(start_daemon):
    st = start_daemon()
    run = flashjig("ctl", "insert", "socket9", *st.common)
    assert run.returncode == 1
    assert run.stderr.strip().count("\n") == 0 and "unknown socket 'socket9'" in run.stderr


def test_payload_sends_the_fault_of_an_insert():
    parse = build_parser().parse_args
    assert payload(parse(["ctl", "insert", "socket1", "--fault", "silent"])) == {
        "cmd": "insert",
        "socket": "socket1",
        "fault": "silent",
    }
    assert payload(parse(["ctl", "insert", "socket2"])) == {
        "cmd": "insert",
        "socket": "socket2",
        "fault": "none",
    }
    assert "fault" not in payload(parse(["ctl", "remove", "socket1"]))


def test_payload_names_the_profile():
    parse = build_parser().parse_args
    assert payload(parse(["ctl", "profile", "spare"])) == {"cmd": "profile", "name": "spare"}
    assert payload(parse(["ctl", "cancel"])) == {"cmd": "cancel"}
    assert payload(parse(["ctl", "cancel", "socket2"])) == {"cmd": "cancel", "socket": "socket2"}


@pytest.mark.slow
def test_insert_with_a_fault_seats_a_module_with_that_fault(start_daemon):
    """`ctl insert --fault` reaches the daemon: a silent module never answers its ROM
    bootloader, while the one seated beside it without a fault flashes."""
    daemon = start_daemon()
    daemon.ctl("insert", "socket1", "--fault", "silent")
    daemon.ctl("insert", "socket2")
    wait_for(
        lambda: all(daemon.sockets()[n]["state"] == "inserted" for n in ("socket1", "socket2")),
        what="both seated",
    )
    daemon.ctl("press")

    def finished():
        sockets = daemon.sockets()
        done = all(sockets[n]["state"] in ("ok", "failed") for n in ("socket1", "socket2"))
        return sockets if done else None

    sockets = wait_for(finished, timeout=60, what="both sockets finished")
    assert sockets["socket1"]["state"] == "failed"
    assert sockets["socket1"]["reason"] == "no sync"
    assert sockets["socket2"]["state"] == "ok"
    with Journal(daemon.state / JOURNAL_FILE, readonly=True) as journal:
        rows = journal.attempts()
    silent = [r for r in rows if r.socket == "socket1"]
    assert silent and all(r.result == "failed" and r.reason == "no sync" for r in silent)
    assert [r.result for r in rows if r.socket == "socket2"] == ["ok"]


@pytest.mark.slow
def test_drain_waits_for_the_flash_in_progress_and_takes_no_new_module(start_daemon):
    """What an upgrade asks before it stops the service: the flash running goes on to its
    end, no other starts meanwhile, and `ctl drain` returns once none is running."""
    daemon = flashing_socket1(start_daemon("--line-rate"))
    waiting = subprocess.Popen(
        [sys.executable, "-m", "flashjig", "ctl", "drain", "--why", "an upgrade", *daemon.common],
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(lambda: daemon.ask("status")["status"]["paused"] == "an upgrade", what="paused")
    refused = daemon.ask("flash", socket="socket2")
    assert refused["started"] == [] and refused["why"] == "no new modules are taken: an upgrade"
    assert waiting.wait(timeout=120) == 0, waiting.stderr.read()
    assert "waiting for socket1" in waiting.stderr.read()
    sockets = daemon.sockets()
    assert sockets["socket1"]["state"] == "ok" and sockets["socket2"]["state"] == "inserted"
    assert not daemon.ask("status")["status"]["accepting"]
    daemon.ctl("resume")
    assert daemon.ask("flash", socket="socket2")["started"] == ["socket2"]


@pytest.mark.slow
def test_drain_gives_up_at_its_timeout_and_the_station_goes_on(start_daemon):
    daemon = flashing_socket1(start_daemon("--line-rate"))
    run = flashjig("ctl", "drain", "--timeout", "0.5", *daemon.common)
    assert run.returncode == 1
    assert run.stderr.splitlines()[-1] == (
        "flashjig ctl drain: socket1 still flashing after 0.5 s; the station takes modules again"
    )
    status = daemon.ask("status")["status"]
    assert status["accepting"] and status["paused"] == ""
    assert daemon.ask("flash", socket="socket2")["started"] == ["socket2"]
