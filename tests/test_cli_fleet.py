"""``flashjig fleet``: two simulated stations on one real mosquitto, seen as one: the live
view of both, a report of every result of both, results published while the viewer was
away still there (its persistent session), none counted twice; overlapping serial ranges
warned about."""

import json

import pytest
from helpers import flash_sockets, flashjig, mqtt_config, other_station, wait_for

from flashjig.mqtt.fleet import StationView, overlapping_ranges

pytestmark = pytest.mark.slow


def fleet(*args, config, state):
    run = flashjig("fleet", *args, "--config", str(config), "--state-dir", str(state))
    assert run.returncode == 0, run.stderr
    return run.stdout


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
