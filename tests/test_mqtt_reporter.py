"""The station reporting to a real mosquitto (loopback, random port): availability, states,
results through the journal outbox (across a broker away and a restart), the last will,
commands, auth and TLS, and a station that keeps working without a broker."""

import dataclasses
import json
import logging
import math
import os
import signal
import subprocess
from pathlib import Path

import pytest
from helpers import flash_sockets, mqtt_config, state_of, wait_for
from mqtt_broker import Broker, Proxy, Recorder, all_in, sentinel

from flashjig.cli.statusview import render
from flashjig.mqtt.announcer import DISCOVERY_FILE
from flashjig.mqtt.discovery import Topics
from flashjig.mqtt.reporter import MqttReporter
from flashjig.simulation.station import simulated_station
from flashjig.station.commands import StationCommands
from flashjig.station.status import SocketState

pytestmark = pytest.mark.slow

REQUIRED = {
    "sensor": {"state_topic"},
    "binary_sensor": {"state_topic"},
    "event": {"state_topic", "event_types"},
    "button": {"command_topic"},
    "select": {"command_topic", "options"},
}


# The reporter's wait between connection attempts (1 s, doubled up to 30 s), short: the
# tests that take a broker away wait for the retries, not for the time between them.
QUICK_RETRIES = (0.05, 0.5)


@pytest.fixture
def kept(tmp_path):
    """A broker that keeps its clients' sessions across a restart, and a recorder with a
    session there: what goes out while it is down and just after reaches the recorder,
    however soon the reporter is back. (A recorder that connects after the restart races
    the reporter's backlog, and now and then misses it.)"""
    directory = tmp_path / "kept"
    directory.mkdir()
    broker = Broker(directory, persistent=True)
    recorder = Recorder(broker.port, client_id="flashjig-tests-recorder")
    try:
        assert recorder.subscribed.wait(10), "the recorder's subscription"
        yield broker, recorder
    finally:
        recorder.close()
        broker.stop()


def connect_failures(reporter) -> list[str]:
    """The reporter's failed connection attempts from now on, one entry each: paho calls
    on_connect_fail for every one, and the reporter's own handler still gets each call
    (first: when an entry is there, what it logs is too)."""
    failures: list[str] = []
    handler = reporter.client.on_connect_fail

    def counted(client, userdata) -> None:
        handler(client, userdata)
        failures.append(reporter.connection)

    reporter.client.on_connect_fail = counted
    return failures


def test_online_discovery_states_and_results_for_five_sockets(mqtt_rig, recorder):
    station, hw, journal, reporter = mqtt_rig(commands=True)
    topics = reporter.topics
    recorder.wait(lambda: recorder.last(topics.availability) == b"online", what="online")
    recorder.wait(lambda: recorder.on(topics.discovery), what="discovery")
    discovery = json.loads(recorder.last(topics.discovery))
    assert discovery["o"]["name"] == "flashjig" and discovery["dev"]["ids"] == [topics.uid]
    cmps = discovery["cmps"]
    unique_ids = [c["unique_id"] for c in cmps.values()]
    assert len(unique_ids) == len(set(unique_ids)) == len(cmps)
    for cid, c in cmps.items():
        assert REQUIRED[c["p"]] <= set(c), cid
        assert "object_id" not in c and c["default_entity_id"].startswith(c["p"] + ".")
    platforms = {c["p"] for c in cmps.values()}
    assert platforms == {"sensor", "binary_sensor", "button", "select", "event"}

    flash_sockets(station, hw, list(station.sockets))
    recorder.wait(lambda: len(recorder.on(topics.result)) == 5, what="five results")
    results = recorder.json_on(topics.result)
    rows = {r.id: r for r in journal.attempts()}
    assert {r["id"] for r in results} == set(rows)
    assert all(r["result"] == "ok" and r["mac"] == rows[r["id"]].mac for r in results)
    recorder.wait(lambda: all(r.published for r in journal.attempts()), what="acked")
    # Every state topic that discovery names has a state.
    for c in cmps.values():
        if "state_topic" in c:
            recorder.wait(lambda c=c: recorder.on(c["state_topic"]), what=c["state_topic"])
    recorder.wait(lambda: json.loads(recorder.last(topics.station))["ok_today"] == 5, what="counts")
    # The last (retained) states are the final ones: a dashboard never sticks at "flashing".
    assert json.loads(recorder.last(topics.station))["flashing"] == 0
    for name in station.sockets:
        state = json.loads(recorder.last(topics.socket(name)))
        assert state["state"] == "ok" and state["progress"] == 100.0 and state["mac"], name
    # Progress is limited to about one message a second per socket, besides one per stage
    # (connecting, starting stub, writing, verifying, booting): on a loaded machine the
    # attempt takes longer, and says so more often, not faster.
    progress = [json.loads(p) for p in recorder.on(topics.socket("socket1"))]
    flashing = [p for p in progress if p["state"] == "flashing"]
    (attempt,) = [r for r in rows.values() if r.socket == "socket1"]
    assert len(flashing) <= 5 + math.ceil(attempt.duration_s) + 1, flashing
    # ...and however it is thinned, each stage went out.
    stages = {p["stage"] for p in flashing}
    assert stages >= {"connecting", "starting stub", "writing", "verifying", "booting"}, stages


def test_a_state_dir_it_cannot_write_does_not_stop_mqtt(mqtt_rig, recorder, tmp_path, caplog):
    # The record of what discovery last announced cannot be written (as on a full disk):
    # logged, and states and results still go out.
    state = tmp_path / "state"
    (state / DISCOVERY_FILE).mkdir(parents=True)
    station, hw, _, reporter = mqtt_rig(state=state)
    topics = reporter.topics
    recorder.wait(lambda: recorder.on(topics.socket("socket2")), what="socket states")
    flash_sockets(station, hw, ["socket2"])
    recorder.wait(lambda: recorder.json_on(topics.result), what="the result")
    assert recorder.json_on(topics.result)[0]["result"] == "ok"
    assert "cannot keep what discovery announced" in caplog.text


def test_clean_stop_says_offline(mqtt_rig, recorder):
    _, _, _, reporter = mqtt_rig()
    topic = reporter.topics.availability
    recorder.wait(lambda: recorder.last(topic) == b"online")
    reporter.stop()
    recorder.wait(lambda: recorder.last(topic) == b"offline", what="offline")


def test_broker_away_mid_run_loses_no_result(kept, mqtt_rig, station_config, monkeypatch):
    broker, recorder = kept
    monkeypatch.setattr("flashjig.mqtt.reporter.RECONNECT_DELAY_S", QUICK_RETRIES)
    station, hw, journal, reporter = mqtt_rig(config=mqtt_config(station_config.path, broker.port))
    wait_for(lambda: reporter.connected, timeout=10, what="the reporter connected")
    broker.stop()
    flash_sockets(station, hw, ["socket1", "socket2"])
    assert len(journal.unpublished()) == 2
    broker.start()
    recorder.wait(
        lambda: len(recorder.on(reporter.topics.result)) >= 2,
        timeout=40,
        what="backlog after the broker came back",
    )
    wait_for(lambda: journal.unpublished() == [], what="both acknowledged")
    # Nothing more comes: the outbox has been through the journal once more, and a
    # sentinel sent after that has reached the recorder.
    assert reporter.outbox_round(timeout=30), "a round of the outbox"
    sentinel(reporter.client, recorder)
    ids = [r["id"] for r in recorder.json_on(reporter.topics.result)]
    assert sorted(ids) == ids and len(ids) == len(set(ids)) == 2


def test_unpublished_rows_go_out_after_a_restart(
    station_config, broker, recorder, tmp_path, start_daemon
):
    config = mqtt_config(station_config.path, broker.port)
    state = tmp_path / "state"
    broker.stop()
    with simulated_station(config, state) as (station, hardware, _):
        flash_sockets(station, hardware, ["socket4"])
    broker.start()
    recorder = Recorder(broker.port)
    # Subscribed before the daemon can connect: its backlog goes out as soon as it does.
    assert recorder.subscribed.wait(10), "the recorder's subscription"
    daemon = start_daemon(config=config.path, state=state)
    try:
        topic = Topics(config).result
        recorder.wait(lambda: recorder.on(topic), timeout=20, what="result after restart")
        (row,) = recorder.json_on(topic)
        assert row["socket"] == "socket4" and row["result"] == "ok"
    finally:
        daemon.stop()
        recorder.close()


def test_killed_daemon_goes_offline_by_its_will(station_config, broker, recorder, start_daemon):
    config = mqtt_config(station_config.path, broker.port, keepalive=5)
    topic = Topics(config).availability
    daemon = start_daemon(config=config.path)
    recorder.wait(lambda: recorder.last(topic) == b"online", what="online")
    daemon.stop(signal.SIGKILL)
    recorder.wait(lambda: recorder.last(topic) == b"offline", timeout=20, what="the will")


def test_commands_accepted_and_refused(mqtt_rig, recorder):
    station, hw, journal, reporter = mqtt_rig(commands=True)
    topics = reporter.topics
    recorder.wait(lambda: reporter.connected)
    hw.insert("socket2")
    recorder.wait(lambda: station.sockets["socket2"].status.state is SocketState.INSERTED)
    recorder.publish(topics.flash("socket2"), "PRESS")
    recorder.wait(
        lambda: station.sockets["socket2"].status.state is SocketState.OK, what="flashed by MQTT"
    )
    for topic, payload, error in [
        (topics.flash("socket9"), "PRESS", "unknown socket 'socket9'"),
        (f"{topics.commands}/cancel/socket8", "PRESS", "unknown socket 'socket8'"),
        (f"{topics.commands}/cancel/socket2", "now!", "unexpected payload 'now!'"),
        (f"{topics.commands}/profile", "../../etc/passwd", "unknown profile"),
        (f"{topics.commands}/flash", "{not json", "unexpected payload"),
        (f"{topics.commands}/flash", "x" * 5000, "too large"),
        (f"{topics.commands}/reboot", "PRESS", "unknown command topic"),
        (f"{topics.commands}/profile", b"\xff\xfe", "not UTF-8"),
        # Commands that would do nothing say why, rather than nothing at all.
        (topics.flash("socket2"), "PRESS", "not flashed: socket2 holds a module flashed already"),
        (topics.flash("socket3"), "PRESS", "not flashed: socket3 is empty"),
        (topics.flash(), "PRESS", "nothing to flash: socket1 is empty; socket2 holds"),
    ]:
        recorder.publish(topic, payload)
        recorder.wait(
            lambda error=error: any(error in e["error"] for e in recorder.json_on(topics.error)),
            what=error,
        )
    assert station.sockets["socket2"].status.state is SocketState.OK
    assert len(journal.attempts()) == 1
    recorder.publish(f"{topics.commands}/profile", "demo")
    recorder.wait(lambda: json.loads(recorder.last(topics.station))["profile"] == "demo")
    assert reporter.connected


def test_commands_are_off_unless_enabled(mqtt_rig, recorder, monkeypatch):
    monkeypatch.setattr("flashjig.mqtt.announcer.BIRTH_DELAY_S", (0.0, 0.0))
    station, hw, journal, reporter = mqtt_rig()
    # Discovery goes out after the reporter's subscriptions: the broker has them now.
    recorder.wait(lambda: recorder.on(reporter.topics.discovery), what="discovery")
    hw.insert("socket1")
    recorder.wait(lambda: station.sockets["socket1"].status.state is SocketState.INSERTED)
    recorder.publish(reporter.topics.flash(), "PRESS")
    # Home Assistant's birth after the command, from the same client: discovery sent again
    # means the reporter has taken the birth, and so anything sent before it. A command
    # it had taken would have left the socket flashing at once.
    recorder.publish(reporter.topics.birth, "online")
    recorder.wait(lambda: len(recorder.on(reporter.topics.discovery)) == 2, what="the birth")
    assert station.sockets["socket1"].status.state is SocketState.INSERTED
    kinds = {c["p"] for c in json.loads(recorder.last(reporter.topics.discovery))["cmps"].values()}
    assert "sensor" in kinds and not kinds & {"button", "select"}


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(certs: Path, name: str) -> Path:
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", f"/CN=flashjig test CA {name}",
        "-keyout", f"{name}.key", "-out", f"{name}.crt",
        cwd=certs,
    )  # fmt: skip
    return certs / f"{name}.crt"


def make_certs(certs: Path) -> None:
    """A test CA (ca.crt) and a server certificate it signed for 127.0.0.1 (server.crt)."""
    certs.mkdir()
    make_ca(certs, "ca")
    _openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
        "-keyout", "server.key", "-out", "server.csr",
        cwd=certs,
    )  # fmt: skip
    (certs / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    _openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "server.crt",
        cwd=certs,
    )  # fmt: skip


def tls_broker(directory: Path, certs: Path, extra: str = "", **kwargs) -> Broker:
    return Broker(
        directory,
        extra=(
            f"cafile {certs / 'ca.crt'}\ncertfile {certs / 'server.crt'}\n"
            f"keyfile {certs / 'server.key'}\n{extra}"
        ),
        **kwargs,
    )


def test_username_password_and_tls(station_config, tmp_path):
    certs = tmp_path / "certs"
    make_certs(certs)
    passwords = tmp_path / "passwd"
    subprocess.run(
        ["mosquitto_passwd", "-b", "-c", str(passwords), "jig", "s3cret"],
        check=True,
        capture_output=True,
    )
    os.chmod(passwords, 0o600)
    broker = tls_broker(tmp_path, certs, f"password_file {passwords}\n", anonymous=False)
    secret = tmp_path / "mqtt-password"
    secret.write_text("s3cret\n")
    try:
        config = mqtt_config(
            station_config.path,
            broker.port,
            username="jig",
            password_file=str(secret),
            tls={"ca_file": str(certs / "ca.crt")},
        )
        recorder = Recorder(
            broker.port, username="jig", password="s3cret", ca=str(certs / "ca.crt")
        )
        with simulated_station(config, tmp_path / "state") as (station, _, journal):
            reporter = MqttReporter(config, StationCommands(station), tmp_path / "state")
            try:
                reporter.start()
                recorder.wait(
                    lambda: recorder.last(reporter.topics.availability) == b"online",
                    what="online over TLS with a password",
                )
                # A wrong password is refused by the broker: the station never connects.
                secret.write_text("wrong\n")
                bad = MqttReporter(
                    dataclasses.replace(config), StationCommands(station), tmp_path / "b"
                )
                bad.start()
                wait_for(
                    lambda: "refused the connection" in bad.connection,
                    what="the broker refusing the wrong password",
                )
                assert not bad.connected
                bad.stop(flush_s=0.1)
            finally:
                reporter.stop(flush_s=0.5)
                recorder.close()
    finally:
        broker.stop()


def test_control_and_status_keep_working_without_a_broker(station_config, start_daemon):
    config = mqtt_config(station_config.path, 1)  # nothing listens on port 1
    daemon = start_daemon(config=config.path)  # started: its control socket answers status
    assert daemon.answers()
    assert daemon.stop() == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small disk needs root")
def test_an_outcome_held_on_a_full_disk_is_published_once(small_disk, mqtt_rig, recorder):
    """The journal cannot record a module's outcome: the result goes out from memory, the
    station state says why, and once recorded it is marked published, not sent again."""
    disk, fill = small_disk
    station, hw, journal, reporter = mqtt_rig(state=disk)
    topics = reporter.topics
    recorder.wait(lambda: recorder.last(topics.availability) == b"online", what="online")
    hw.insert("socket1")
    wait_for(lambda: state_of(station, "socket1") is SocketState.INSERTED)
    assert station.flash_one("socket1")
    wait_for(lambda: station.sockets["socket1"].status.stage == "writing", what="writing")
    fill()
    recorder.wait(lambda: recorder.on(topics.result), timeout=60, what="the held result")
    (held,) = recorder.json_on(topics.result)
    assert held["result"] == "ok" and held["socket"] == "socket1" and held["mac"]
    assert [r.result for r in journal.attempts()] == ["started"]
    recorder.wait(
        lambda: "cannot be written" in json.loads(recorder.last(topics.station))["journal"],
        what="the station state saying the journal is full",
    )
    wait_for(lambda: station.unrecorded[0].published, what="acknowledged")

    (disk / "filler").unlink()
    station.record_unrecorded()
    (row,) = journal.attempts()
    assert row.id == held["id"] and row.result == "ok" and row.published
    recorder.wait(
        lambda: json.loads(recorder.last(topics.station))["journal"] == "ok",
        what="the station state saying the journal is well again",
    )
    flash_sockets(station, hw, ["socket2"])
    recorder.wait(lambda: len(recorder.on(topics.result)) >= 2, what="the next result")
    wait_for(lambda: journal.unpublished() == [], what="the next result acknowledged")
    # Nothing more comes: the outbox has been through the journal and what the station
    # holds once more, and a sentinel sent after that has reached the recorder.
    assert reporter.outbox_round(timeout=30), "a round of the outbox"
    sentinel(reporter.client, recorder)
    ids = [r["id"] for r in recorder.json_on(topics.result)]
    assert ids == [held["id"], held["id"] + 1]


def test_retained_states_after_a_reconnect_are_the_stations(
    station_config, broker, tmp_path, monkeypatch
):
    """The link goes quiet mid-flash (states sent into the void, never acknowledged), then
    drops; the flash ends while it is down. After the reconnect, the retained state of the
    socket is the station's own: "ok", not a "flashing" that paho resent late."""
    monkeypatch.setattr("flashjig.mqtt.reporter.RECONNECT_DELAY_S", QUICK_RETRIES)
    proxy = Proxy(broker.port)
    config = mqtt_config(station_config.path, proxy.port)
    state = tmp_path / "state"
    with simulated_station(config, state, line_rate=True) as (station, hw, journal):
        reporter = MqttReporter(config, StationCommands(station), state)
        reporter.start()
        viewer = None
        try:
            wait_for(lambda: reporter.connected, timeout=10, what="connected")
            hw.insert("socket1")
            wait_for(lambda: state_of(station, "socket1") is SocketState.INSERTED)
            assert station.flash_one("socket1")
            socket = station.sockets["socket1"]
            wait_for(lambda: socket.status.stage == "writing", timeout=20, what="writing")
            proxy.blackhole()
            socket1 = reporter.topics.socket("socket1").encode()
            wait_for(
                lambda: any(socket1 in data and b'"flashing"' in data for data in proxy.dropped()),
                what="a progress state sent into the void",
            )
            proxy.cut()
            wait_for(lambda: not reporter.connected, what="the cut seen")
            wait_for(lambda: not station.sockets["socket1"].busy, timeout=90, what="done")
            proxy.restore()
            wait_for(lambda: reporter.connected, timeout=60, what="reconnected")
            all_in(reporter.client)  # what paho resends after the reconnect included
            viewer = Recorder(broker.port)  # a dashboard opened now: the retained states
            topic = reporter.topics.socket("socket1")
            viewer.wait(lambda: viewer.on(topic), what="the retained state")
            retained = json.loads(viewer.last(topic))
            status = station.sockets["socket1"].status.as_dict()
            assert (retained["state"], retained["progress"]) == ("ok", status["progress"])
            assert status["state"] == "ok"
        finally:
            if viewer is not None:
                viewer.close()
            reporter.stop(flush_s=0.5)
            proxy.close()


def test_every_stage_goes_out(mqtt_rig, recorder):
    """Stages follow each other within milliseconds on a fast module: each one still
    reaches the dashboard, not only the first of each second."""
    station, hw, journal, reporter = mqtt_rig()
    seen: list[str] = []
    station.subscribe(
        lambda status: (
            status.name == "socket1"
            and status.stage
            and (not seen or seen[-1] != status.stage)
            and seen.append(status.stage)
        )
    )
    recorder.wait(lambda: reporter.connected, what="connected")
    flash_sockets(station, hw, ["socket1"])
    topic = reporter.topics.socket("socket1")
    recorder.wait(lambda: json.loads(recorder.last(topic))["state"] == "ok", what="ok")
    published = [s["stage"] for s in recorder.json_on(topic) if s["stage"]]
    changes = [stage for i, stage in enumerate(published) if i == 0 or published[i - 1] != stage]
    assert len(seen) >= 4 and changes == seen


def test_a_result_sent_as_the_connection_drops_goes_out_once(
    kept, mqtt_rig, station_config, monkeypatch
):
    """The outbox publishes in the instant the connection is gone (paho answers
    MQTT_ERR_NO_CONN, yet keeps the message and sends it on reconnecting): that result
    must not be published a second time once the broker is back."""
    broker, recorder = kept
    monkeypatch.setattr("flashjig.mqtt.reporter.RECONNECT_DELAY_S", QUICK_RETRIES)
    station, hw, journal, reporter = mqtt_rig(config=mqtt_config(station_config.path, broker.port))
    wait_for(lambda: reporter.connected, timeout=10, what="connected")
    broker.stop()
    wait_for(lambda: not reporter.connected, what="the broker gone")
    flash_sockets(station, hw, ["socket1"])
    (row,) = journal.unpublished()
    reporter.results.publish_batch()  # the outbox's step, as it ran when the connection dropped
    broker.start()
    wait_for(lambda: journal.unpublished() == [], timeout=40, what="acknowledged")
    # A second copy would be out by the end of the outbox's next round; a sentinel sent
    # after that reaching the recorder means it would be there.
    assert reporter.outbox_round(timeout=30), "a round of the outbox"
    sentinel(reporter.client, recorder)
    assert [r["id"] for r in recorder.json_on(reporter.topics.result)] == [row.id]


def connection_warnings(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "flashjig.mqtt.reporter" and "MQTT broker" in r.getMessage()
    ]


def test_a_broker_that_is_not_there_is_said_once_and_shown_in_status(
    mqtt_rig, broker, caplog, monkeypatch
):
    """Refused, again and again while it retries: one warning, the status says it, and
    the reconnect says what it was."""
    caplog.set_level(logging.INFO, logger="flashjig.mqtt.reporter")
    monkeypatch.setattr("flashjig.mqtt.reporter.RECONNECT_DELAY_S", QUICK_RETRIES)
    # Said once the connection has lasted this long: not 5 s here.
    monkeypatch.setattr("flashjig.mqtt.connection.SHORT_CONNECTION_S", 0.5)
    broker.stop()
    station, hw, journal, reporter = mqtt_rig()
    failures = connect_failures(reporter)
    where = f"127.0.0.1:{broker.port}"
    refused = f"cannot connect to the MQTT broker {where}: connection refused"
    wait_for(lambda: refused in station.status().broker, what="the status saying so")
    assert f"  MQTT: {refused}" in render(station.status().as_dict())  # flashjig status
    wait_for(lambda: len(failures) >= 3, what="three attempts refused")
    assert all(refused in failure for failure in failures)
    assert [w for w in connection_warnings(caplog) if "connect" in w] == [
        f"{refused} (is the broker running, on this port?) (retrying)"
    ]
    broker.start()
    wait_for(lambda: reporter.connected, timeout=40, what="connected")
    assert station.status().broker == f"connected to {where}"
    wait_for(
        lambda: connection_warnings(caplog)[-1].startswith(
            f"connected to MQTT broker {where} (it was: {refused}"
        ),
        what="the end of the problem said, once the connection has lasted",
    )


def test_a_certificate_that_does_not_verify_is_said(station_config, tmp_path, caplog, monkeypatch):
    monkeypatch.setattr("flashjig.mqtt.reporter.RECONNECT_DELAY_S", QUICK_RETRIES)
    certs = tmp_path / "certs"
    make_certs(certs)
    other_ca = make_ca(certs, "other")  # not the CA that signed the broker's certificate
    broker = tls_broker(tmp_path, certs)
    config = mqtt_config(station_config.path, broker.port, tls={"ca_file": str(other_ca)})
    try:
        with simulated_station(config, tmp_path / "state") as (station, _, journal):
            reporter = MqttReporter(config, StationCommands(station), tmp_path / "state")
            failures = connect_failures(reporter)
            reporter.start()
            try:
                wait_for(lambda: "does not verify" in station.status().broker, what="the reason")
                wait_for(lambda: len(failures) >= 3, what="three attempts that do not verify")
                assert all("does not verify" in failure for failure in failures)
                (warning,) = connection_warnings(caplog)
                assert "its TLS certificate does not verify" in warning
                assert not reporter.connected
            finally:
                reporter.stop(flush_s=0.1)
    finally:
        broker.stop()


def test_two_stations_with_one_station_id_are_told(mqtt_rig, station_config, tmp_path, caplog):
    """Two daemons with the same station id (so the same client id): the broker closes each
    connection as the other one opens. Said, not a silent tug of war."""
    first, _, _, one = mqtt_rig(state=tmp_path / "one")
    second, _, _, other = mqtt_rig(config=one.config, state=tmp_path / "two")
    told = "another client uses client id 'flashjig-bench-1'"
    wait_for(
        lambda: any(told in s.status().broker for s in (first, second)),
        timeout=30,
        what="the duplicate client id said",
    )
    assert any(told in w and "station id bench-1" in w for w in connection_warnings(caplog))


def test_result_events_carry_the_documented_schema(mqtt_rig, recorder):
    """Exactly the fields README.md's table names, in its words; no journal bookkeeping,
    no path on the Pi."""
    import re

    from flashjig.mqtt.result import FIELDS

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    documented = dict(re.findall(r"^\| `(\w+)` \| (.+) \|$", readme, re.MULTILINE))
    assert {k: documented.get(k) for k in FIELDS} == FIELDS
    station, hw, journal, reporter = mqtt_rig()
    recorder.wait(lambda: reporter.connected, what="connected")
    flash_sockets(station, hw, ["socket1"])
    recorder.wait(lambda: recorder.on(reporter.topics.result), what="the result")
    (event,) = recorder.json_on(reporter.topics.result)
    assert set(event) == set(FIELDS)
    (row,) = journal.attempts()
    assert event["schema"] == 1 and event["id"] == row.id and event["reason"] is None
    assert event["result"] == "ok" and event["mac"] == row.mac and event["attempt"] == 1
    (image,) = event["images"]
    assert image["name"] == "demo.bin" and "/" not in json.dumps(event["images"])
