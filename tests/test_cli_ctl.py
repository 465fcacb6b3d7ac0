"""``flashjig ctl``: the request each action sends, and a running simulated station driven
by it (insert with a fault, press, an unknown socket refused in one line)."""

import pytest
from helpers import flashjig, wait_for

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
