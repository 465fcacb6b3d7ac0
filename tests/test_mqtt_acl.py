"""config/mosquitto.acl, enforced by a real mosquitto with password accounts: a station
writes its own topics and nothing else (no command, not even to itself; nothing of another
station's), and only the dashboard account commands."""

import json
import os
import subprocess
from pathlib import Path

import pytest
from helpers import mqtt_config, state_of, wait_for
from mqtt_broker import Broker, Recorder

from flashjig.mqtt.reporter import MqttReporter
from flashjig.simulation.station import simulated_station
from flashjig.station.commands import StationCommands
from flashjig.station.status import SocketState

pytestmark = pytest.mark.slow

ACL = Path(__file__).resolve().parents[1] / "config" / "mosquitto.acl"
ACCOUNTS = {"bench-1": "one", "bench-2": "two", "homeassistant": "dash"}


@pytest.fixture
def guarded(tmp_path):
    """mosquitto with the shipped ACL and an account per station and for the dashboard."""
    passwords = tmp_path / "passwd"
    for i, (user, password) in enumerate(ACCOUNTS.items()):
        create = ["-c"] if i == 0 else []
        subprocess.run(
            ["mosquitto_passwd", "-b", *create, str(passwords), user, password],
            check=True,
            capture_output=True,
        )
    os.chmod(passwords, 0o600)
    broker = Broker(tmp_path, anonymous=False, extra=f"password_file {passwords}\nacl_file {ACL}\n")
    yield broker
    broker.stop()


def account(broker: Broker, user: str) -> Recorder:
    return Recorder(broker.port, username=user, password=ACCOUNTS[user])


def test_the_shipped_acl_lets_a_station_report_and_only_the_dashboard_command(
    guarded, station_config, tmp_path
):
    secret = tmp_path / "bench-1.password"
    secret.write_text(ACCOUNTS["bench-1"] + "\n")
    config = mqtt_config(
        station_config.path,
        guarded.port,
        username="bench-1",
        password_file=str(secret),
        commands=True,
    )
    assert config.station.id == "bench-1"
    dashboard = account(guarded, "homeassistant")
    station_account = account(guarded, "bench-1")
    other_station = account(guarded, "bench-2")
    state = tmp_path / "state"
    with simulated_station(config, state) as (station, hw, journal):
        reporter = MqttReporter(config, StationCommands(station), state)
        reporter.start()
        try:
            topics = reporter.topics
            dashboard.wait(lambda: dashboard.last(topics.availability) == b"online", what="online")
            dashboard.wait(lambda: dashboard.on(topics.discovery), what="discovery")
            dashboard.wait(lambda: dashboard.on(topics.socket("socket1")), what="socket states")
            for name in ("socket1", "socket2"):
                hw.insert(name)
            wait_for(lambda: state_of(station, "socket2") is SocketState.INSERTED)

            # The station's own account cannot command, not even its own station.
            station_account.publish(topics.flash("socket2"), "PRESS")
            # Another station's account cannot write this station's topics.
            other_station.publish(topics.socket("socket1"), json.dumps({"state": "ok"}))
            other_station.publish(topics.result, json.dumps({"id": 999}))
            # The dashboard commands.
            dashboard.publish(topics.flash("socket1"), "PRESS")
            dashboard.wait(lambda: dashboard.json_on(topics.result), timeout=60, what="a result")
            # No waiting for what did not come: each publish above was acknowledged before
            # the next was sent, and the broker hands on a message before acknowledging it.
            # So a forged message would have reached the dashboard before this result, and
            # the station's own command the station before the dashboard's (whose result
            # this is), starting socket2's flash at once.
            assert [r["socket"] for r in dashboard.json_on(topics.result)] == ["socket1"]
            assert state_of(station, "socket2") is SocketState.INSERTED  # never commanded
            assert dashboard.on(topics.flash("socket2")) == []
            states = dashboard.json_on(topics.socket("socket1"))
            assert all("name" in s for s in states)  # only the station's own, none forged
        finally:
            reporter.stop(flush_s=0.5)
            for client in (dashboard, station_account, other_station):
                client.close()
