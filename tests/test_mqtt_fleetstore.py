"""The fleet viewer's store: each result kept once, the states of the last look, a store
of a newer viewer refused, and every refusal a FleetStoreError naming the file."""

import re
import sqlite3

import pytest

from flashjig.errors import FleetError
from flashjig.mqtt.fleetstore import FLEET_FILE, STORE_VERSION, FleetStore, FleetStoreError


def unused(station, event):
    pytest.fail(f"a new store has no earlier result to check ({station}: {event})")


def result(attempt_id, started):
    return {"id": attempt_id, "started_at": started, "result": "ok"}


def test_a_result_is_kept_once_by_station_id_and_start(tmp_path):
    store = FleetStore(tmp_path / "viewer" / FLEET_FILE, recheck=unused)
    first, again = result(1, "2026-03-01T08:00:00.000Z"), result(1, "2026-03-02T08:00:00.000Z")
    store.keep_result("bench-1", first, 1.0)
    store.keep_result("bench-1", first, 2.0)  # sent again: the broker's resend
    store.keep_result("bench-1", again, 3.0)  # a journal made anew counts from 1 again
    store.keep_result("bench-2", first, 4.0)
    assert store.results() == [first, again, first]
    assert store.results(since=2.5) == [again, first]
    store.close()


def test_the_states_are_those_of_the_last_look(tmp_path):
    store = FleetStore(tmp_path / FLEET_FILE, recheck=unused)
    store.replace_states({"flashjig/b/state": "{}", "flashjig/a/availability": "online"})
    assert store.states() == [("flashjig/a/availability", "online"), ("flashjig/b/state", "{}")]
    store.replace_states({"flashjig/c/state": "{}"})
    assert store.states() == [("flashjig/c/state", "{}")]
    store.close()


def test_a_store_of_a_newer_viewer_is_refused(tmp_path):
    path = tmp_path / FLEET_FILE
    at = re.escape(str(path))
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {STORE_VERSION + 1}")
    with pytest.raises(FleetStoreError, match=f"^{at} is kept by a newer flashjig \\(layout 2\\)$"):
        FleetStore(path, recheck=unused)


def test_a_file_that_is_no_store_cannot_be_used(tmp_path):
    path = tmp_path / FLEET_FILE
    at = re.escape(str(path))
    path.write_bytes(b"not a database, whatever it was" * 100)
    with pytest.raises(FleetStoreError, match=f"^cannot use {at}: file is not a database$"):
        FleetStore(path, recheck=unused)
    assert issubclass(FleetStoreError, FleetError)  # the command line says it in one line


def test_a_store_that_cannot_be_written_or_read_says_so(tmp_path):
    path = tmp_path / FLEET_FILE
    at = re.escape(str(path))
    store = FleetStore(path, recheck=unused)
    store.close()  # every use of its connection fails from here on, as sqlite3.Error
    with pytest.raises(FleetStoreError, match=f"^cannot keep what the broker sent in {at}: "):
        store.keep_result("bench-1", result(1, "2026-03-01T08:00:00.000Z"), 1.0)
    with pytest.raises(FleetStoreError, match=f"^cannot keep the stations' states in {at}: "):
        store.replace_states({})
    with pytest.raises(FleetStoreError, match=f"^cannot read {at}: "):
        store.results()
