"""``flashjig fleet``: two simulated stations on one real mosquitto, seen as one: the live
view of both, a report of every result of both, results published while the viewer was
away still there (its persistent session), none counted twice; overlapping serial ranges
warned about. And what one station account can do to the viewer: messages that do not
match the schemas refused once each, the rest of the fleet shown; a journal made anew
(ids from 1 again) losing no result; a station cleared away gone from the view; one that
never stops publishing not holding the view back; an earlier viewer's bad data read."""

import contextlib
import itertools
import json
import sqlite3
import subprocess
import threading
import time

import paho.mqtt.client as mqtt
import pytest
from helpers import flash_sockets, flashjig, mqtt_config, other_station, wait_for
from mqtt_broker import Recorder

from flashjig.flashing.result import Outcome
from flashjig.mqtt.fleet import GATHER_LIMIT_S, QUIET_S, StationView, overlapping_ranges
from flashjig.mqtt.incoming import check_station_state
from flashjig.mqtt.result import result_event
from flashjig.station.journal import AttemptRow

pytestmark = pytest.mark.slow


def run_fleet(*args, config, state, timeout=60):
    return flashjig(
        "fleet", *args, "--config", str(config), "--state-dir", str(state), timeout=timeout
    )


def shown(*args, **viewer):
    """A fleet command that must succeed: (stdout, stderr lines), no traceback."""
    run = run_fleet(*args, **viewer)
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    return run.stdout, run.stderr.splitlines()


def fleet(*args, **viewer):
    """A fleet command over stations as they are: it refuses nothing they send."""
    out, errors = shown(*args, **viewer)
    assert errors == []
    return out


def test_two_stations_seen_as_one(mqtt_rig, station_config, broker, tmp_path):
    first = mqtt_config(station_config.path, broker.port)
    second = other_station(station_config, "bench-2", broker.port, tmp_path)
    s1, hw1, j1, r1 = mqtt_rig(config=first, state=tmp_path / "s1")
    s2, hw2, j2, r2 = mqtt_rig(config=second, state=tmp_path / "s2")
    wait_for(lambda: r1.connected and r2.connected, what="both stations connected")
    viewer = dict(config=first.path, state=tmp_path / "viewer")

    status = json.loads(fleet("status", "--json", **viewer))
    assert [s["id"] for s in status["stations"]] == ["bench-1", "bench-2"]
    assert all(s["online"] and len(s["sockets"]) == 5 for s in status["stations"])

    flash_sockets(s1, hw1, ["socket1"])
    flash_sockets(s2, hw2, ["socket1", "socket2"])
    wait_for(lambda: not j1.unpublished() and not j2.unpublished(), what="all published")
    results = json.loads(fleet("report", "--json", **viewer))
    assert sorted((r["station"], r["socket"]) for r in results) == [
        ("bench-1", "socket1"),
        ("bench-2", "socket1"),
        ("bench-2", "socket2"),
    ]

    # The viewer is away while another module is flashed: its session keeps the result.
    flash_sockets(s1, hw1, ["socket3"])
    wait_for(lambda: not j1.unpublished(), what="published while the viewer was away")
    text = fleet("report", **viewer)
    assert text.startswith("4 results from 2 stations: 4 ok, 0 not")
    assert text.count(" ok\n") + text.endswith(" ok") == 4  # one line per result
    again = json.loads(fleet("report", "--json", **viewer))
    assert len(again) == 4  # kept once each, however often they arrived
    live = fleet("status", **viewer)
    assert "station bench-1  online" in live and "station bench-2  online" in live


def test_overlapping_serial_ranges_are_warned_about():
    def station(name, low, high):
        return StationView(name, True, {"serial_range": [low, high]}, {})

    apart = [station("a", 1, 499), station("b", 500, 999)]
    assert overlapping_ranges(apart) == []
    (warning,) = overlapping_ranges([station("a", 1, 500), station("b", 500, 999)])
    assert warning.startswith("stations a (1-500) and b (500-999) give out serials")
    assert overlapping_ranges([station("a", 1, 9), StationView("c", True, {}, {})]) == []


def test_a_station_that_hands_out_serials_announces_its_range(
    mqtt_rig, recorder, station_config, broker, tmp_path
):
    """What the fleet view's warning reads: a station whose profile gives units serials
    publishes its serial range with its state; one that does not, none."""
    import dataclasses

    from flashjig.config import Identity

    plain = mqtt_config(station_config.path, broker.port)
    units = dataclasses.replace(plain.profile, identity=Identity(mode="record", offset=0xFB000))
    serials = dataclasses.replace(
        plain,
        profiles={**plain.profiles, units.name: units},
        station=dataclasses.replace(plain.station, id="bench-2", serial_range=(100, 199)),
    )
    _, _, _, without = mqtt_rig(config=plain, state=tmp_path / "one")
    _, _, _, with_range = mqtt_rig(config=serials, state=tmp_path / "two")
    for reporter in (without, with_range):
        recorder.wait(lambda r=reporter: recorder.on(r.topics.station), what="station state")
    assert "serial_range" not in json.loads(recorder.last(without.topics.station))
    assert json.loads(recorder.last(with_range.topics.station))["serial_range"] == [100, 199]
    for reporter in (without, with_range):  # the fleet viewer takes both
        check_station_state(recorder.last(reporter.topics.station))


# -- what one station account can send ------------------------------------------------------
#
# Each test below plays a station with a plain paho client (the publisher), as any account
# that may write a station's topics can: the viewer must refuse what does not match the
# schemas, once, and show the rest of the fleet all the same.


def event(attempt_id, started, station="bench-9", **changes):
    """A result event as a station publishes it (flashjig.mqtt.result), with ``changes``."""
    row = AttemptRow(
        id=attempt_id, station=station, socket="socket1", profile="demo",
        started_at=started, finished_at=started, result=Outcome.OK, reason=None,
        detail="", retry=0, mac="5c:cf:7f:00:00:01", chip="ESP8266EX", flash_id="0x1640ef",
        flash_size="4MB", images=[{"offset": 0, "file": "/srv/demo.bin", "sha256": "ab",
        "size": 1024}], bytes=1024, baud=460800, duration_s=3.2, published=False,
        serial=None, client_id=None, boot_log="", chip_revision=None,
    )  # fmt: skip
    return {**result_event(row), **changes}


@pytest.fixture
def viewer(station_config, broker, tmp_path):
    """The fleet commands' config (the broker) and state directory."""
    return dict(config=mqtt_config(station_config.path, broker.port).path, state=tmp_path / "v")


@pytest.fixture
def publisher(broker):
    """A plain paho client on the broker (it records only what nobody publishes)."""
    client = Recorder(broker.port, topic="nothing/#")
    yield client
    client.close()


def clear(publisher, topics):
    """Clear retained topics as a person does (mosquitto_pub -r -n: QoS 0, so a viewer's
    session away keeps no copy), done once the broker acknowledges a later message."""
    for topic in topics:
        publisher.client.publish(topic, b"", qos=0, retain=True)
    publisher.publish("nothing/done", b"")  # the broker takes one connection's in order


def test_results_that_do_not_match_the_schema_are_refused_once_the_rest_kept(viewer, publisher):
    shown("status", **viewer)  # the viewer's session exists: results now wait for it
    topic = "flashjig/bench-9/result"
    good = [event(n, f"2026-03-02T08:00:0{n}.000Z") for n in (1, 2, 3)]
    bad = [
        json.dumps(event(10, "2026-03-02T08:01:00.000Z")).replace('"id": 10', '"id": 1e999'),
        json.dumps(event(11, "2026-03-02T08:01:01.000Z", result="failed", reason={"a": 1})),
        json.dumps(event(12, "2026-03-02T08:01:02.000Z", id=10**30)),  # beyond SQLite
        json.dumps(event(13, "2026-03-02T08:01:03.000Z", id="13")),
        json.dumps(event(14, "2026-03-02T08:01:04.000Z", started_at=None)),
        json.dumps(event(15, "2026-03-02T08:01:05.000Z", schema=2)),
        json.dumps(event(16, "2026-03-02T08:01:06.000Z", images=[{"size": "big"}])),
        "[" * 100_000,  # deeper than Python's JSON decoder goes
        b"\xff\xfe not text",
        "[1, 2]",
        "{",
    ]
    publisher.publish(topic, json.dumps(good[0]))
    for payload in bad:
        publisher.publish(topic, payload)
    for result in good[1:]:
        publisher.publish(topic, json.dumps(result))

    out, errors = shown("report", "--json", **viewer)
    assert [r["id"] for r in json.loads(out)] == [1, 2, 3]
    assert len(errors) == len(bad)  # one line for each, naming the station
    assert all(
        line.startswith("flashjig fleet: station bench-9: result refused: ") for line in errors
    )
    assert '"id" is Infinity, not' in errors[0]
    assert '"reason" is {"a": 1}, not text or null' in errors[1]
    assert "not JSON" in errors[7] and "not UTF-8" in errors[8]

    # Refused is acknowledged: nothing comes back, and the report reads as ever.
    out, errors = shown("report", **viewer)
    assert errors == []
    assert out.startswith("3 results from 1 stations: 3 ok, 0 not")


def test_a_recreated_journal_starting_again_at_id_1_loses_no_result(viewer, publisher):
    shown("status", **viewer)
    topic = "flashjig/bench-9/result"
    first = event(1, "2026-03-02T08:00:00.000Z")
    publisher.publish(topic, json.dumps(first))
    out, _ = shown("report", "--json", **viewer)
    assert len(json.loads(out)) == 1

    # A new SD card: a fresh journal counts from 1 again. The old result 1, sent again
    # (a station that never saw the broker's acknowledgement), is still the same result.
    publisher.publish(topic, json.dumps(event(1, "2026-03-09T07:45:12.345Z")))
    publisher.publish(topic, json.dumps(first))
    out, _ = shown("report", "--json", **viewer)
    assert [r["started_at"] for r in json.loads(out)] == [
        "2026-03-02T08:00:00.000Z",
        "2026-03-09T07:45:12.345Z",
    ]


def test_states_that_do_not_match_are_refused_and_the_rest_shown(viewer, publisher):
    retained = {
        "flashjig/bench-8/availability": "online",
        "flashjig/bench-8/state": json.dumps({"profile": "demo", "serial_range": [1, 100]}),
        "flashjig/bench-9/state": json.dumps({"serial_range": ["a", {}]}),
        "flashjig/bench-9/socket/socket1/state": json.dumps({"state": {}, "progress": "x"}),
        "flashjig/bench-9/availability": "maybe",
    }
    for topic, payload in retained.items():
        publisher.publish(topic, payload, retain=True)

    out, errors = shown("status", **viewer)
    assert "station bench-8  online  profile demo" in out
    assert "bench-9" not in out  # nothing it sent could be read
    assert sorted(errors) == [
        'flashjig fleet: station bench-9: availability refused: "maybe" is not online or offline',
        'flashjig fleet: station bench-9: socket socket1\'s state refused: "state" is {}, not text',
        'flashjig fleet: station bench-9: state refused: "serial_range" is ["a", {}], '
        "not two whole numbers, low to high",
    ]
    out, _ = shown("status", "--json", **viewer)
    assert [s["id"] for s in json.loads(out)["stations"]] == ["bench-8"]

    # The station's topics cleared: the complaints are gone with them.
    clear(publisher, [topic for topic in retained if "bench-9" in topic])
    out, errors = shown("status", "--json", **viewer)
    assert [s["id"] for s in json.loads(out)["stations"]] == ["bench-8"]
    assert errors == []


def test_a_station_whose_retained_topics_were_cleared_while_the_viewer_was_away_is_gone(
    viewer, publisher
):
    topics = ["flashjig/bench-7/availability", "flashjig/bench-7/state"]
    publisher.publish(topics[0], "online", retain=True)
    publisher.publish(topics[1], json.dumps({"profile": "demo"}), retain=True)
    out, _ = shown("status", "--json", **viewer)
    assert [s["id"] for s in json.loads(out)["stations"]] == ["bench-7"]
    clear(publisher, topics)  # taken out of service while the viewer was away
    out, _ = shown("status", "--json", **viewer)
    assert json.loads(out)["stations"] == []


@contextlib.contextmanager
def flooding(broker, *, results: bool):
    """A station that publishes its state every 0.2 s (and a result, with ``results``)
    for as long as the block lasts; the block gets the times of its publishes. A publish
    that raised ends the block with its error (in the thread it would be a warning). The
    flood hands its messages to paho and goes on, as a station's reporter does: waiting for
    each acknowledgement, it paused a second under a loaded machine (seen in CI-sized
    runs), and the viewer rightly went quiet in the pause."""
    client = Recorder(broker.port, topic="nothing/#")
    stop = threading.Event()
    sent: list[float] = []
    failed: list[Exception] = []

    def publish(topic: str, payload: str, **kwargs) -> None:
        queued = client.client.publish(topic, payload, qos=1, **kwargs)
        if queued.rc != mqtt.MQTT_ERR_SUCCESS:
            raise RuntimeError(f"publish to {topic}: {mqtt.error_string(queued.rc)}")

    def flood() -> None:
        n = 0
        try:
            while not stop.wait(0.2):
                n += 1
                publish("flashjig/bench-6/state", json.dumps({"ok_today": n}), retain=True)
                if results:
                    stamp = f"2026-03-02T08:{n // 60 % 60:02d}:{n % 60:02d}.000Z"
                    publish("flashjig/bench-6/result", json.dumps(event(n, stamp, "bench-6")))
                sent.append(time.monotonic())
        except Exception as e:  # noqa: BLE001 - said when the block ends
            failed.append(e)

    thread = threading.Thread(target=flood, daemon=True)
    thread.start()
    try:
        yield sent
    finally:
        stop.set()
        thread.join()
        client.close()
    assert not failed, f"the flood stopped: {failed[0]!r}"


def flooded_throughout(sent: list[float], started: float, ended: float) -> None:
    """The flood published from ``started`` to ``ended`` without a pause of QUIET_S: a
    viewer that went quiet in that time did so in spite of it, not in a pause."""
    times = [started, *(t for t in sent if started < t < ended), ended]
    pause = max(later - earlier for earlier, later in itertools.pairwise(times))
    assert pause < QUIET_S, f"the flood paused {pause:.1f} s while the viewer gathered"


def test_a_station_that_never_stops_publishing_cannot_hold_the_view_back(viewer, broker):
    with flooding(broker, results=True) as sent:
        started = time.monotonic()
        try:
            run = run_fleet("status", **viewer, timeout=GATHER_LIMIT_S + 30)
        except subprocess.TimeoutExpired:
            pytest.fail("fleet status still gathering 30 s past its limit")
        took = time.monotonic() - started
    flooded_throughout(sent, started, started + took)  # or the viewer went quiet in a pause
    assert run.returncode == 0, run.stderr
    assert "station bench-6  OFFLINE" in run.stdout
    (line,) = run.stderr.splitlines()
    assert line.startswith(f"flashjig fleet: stopped gathering after {GATHER_LIMIT_S:g} s")
    assert took < GATHER_LIMIT_S + 10


def test_live_states_alone_do_not_keep_the_gathering_going(viewer, broker):
    """Only what the broker held for the viewer (retained states, queued results) keeps it
    listening: a busy station's progress, live, would keep it for ever."""
    with flooding(broker, results=False) as sent:
        started = time.monotonic()
        try:
            run = run_fleet("status", **viewer, timeout=GATHER_LIMIT_S + 30)
        except subprocess.TimeoutExpired:
            pytest.fail("fleet status still gathering 30 s past its limit")
        ended = time.monotonic()
    assert run.returncode == 0, run.stderr
    assert "station bench-6" in run.stdout
    assert run.stderr == ""  # gone quiet: not cut short
    flooded_throughout(sent, started, ended)  # while the live states kept coming


# What fleet.sqlite3 held before results were keyed by their start time as well.
EARLIER_STORE = """
CREATE TABLE results (
    station TEXT NOT NULL, id INTEGER NOT NULL, event TEXT NOT NULL, received_at REAL NOT NULL,
    PRIMARY KEY (station, id)
);
CREATE TABLE states (topic TEXT PRIMARY KEY, payload TEXT NOT NULL);
"""


def test_bad_data_an_earlier_viewer_kept_does_not_break_the_view(viewer):
    store = viewer["state"] / "fleet.sqlite3"
    store.parent.mkdir(parents=True)
    kept = event(4, "2026-03-01T17:00:00.000Z")
    with contextlib.closing(sqlite3.connect(store)) as db, db:
        db.executescript(EARLIER_STORE)
        db.executemany(
            "INSERT INTO results VALUES (?, ?, ?, ?)",
            [
                ("bench-9", 3, json.dumps(event(3, "2026-03-01T16:00:00.000Z",
                                                result="failed", reason={"a": 1})), 1.0),
                ("bench-9", 4, json.dumps(kept), 2.0),
            ],
        )  # fmt: skip
        db.executemany(
            "INSERT INTO states VALUES (?, ?)",
            [
                ("flashjig/bench-8/state", json.dumps({"serial_range": [1, 100]})),
                ("flashjig/bench-9/state", json.dumps({"serial_range": ["a", {}]})),
                ("flashjig/bench-9/socket/s1/state", json.dumps({"progress": "x"})),
            ],
        )

    out, errors = shown("status", **viewer)
    assert errors == [
        "flashjig fleet: station bench-9: a result an earlier flashjig kept is dropped: "
        '"reason" is {"a": 1}, not text or null'
    ]
    assert out.startswith("no station has reported to this broker")  # states are the broker's
    out, errors = shown("report", **viewer)
    assert errors == []
    assert out.startswith("1 results from 1 stations: 1 ok, 0 not")
    out, _ = shown("report", "--json", **viewer)
    assert json.loads(out) == [kept]


def test_a_password_file_that_is_not_utf8_is_one_line_and_exit_1(station_config, tmp_path):
    """The viewer loads its config without checking files (it has no images), so the
    broker's password is read as it connects: a file it cannot use is one line."""
    secret = tmp_path / "mqtt-password"
    secret.write_bytes(b"caf\xe9\n")
    config = tmp_path / "viewer.yaml"
    config.write_text(
        station_config.path.read_text()
        + f"mqtt: {{host: 127.0.0.1, username: jig, password_file: {secret}}}\n"
    )
    run = run_fleet("status", config=config, state=tmp_path / "viewer")
    assert run.returncode == 1
    [line] = run.stderr.splitlines()
    assert line.startswith("flashjig fleet: mqtt.password_file: ") and "not UTF-8" in line
