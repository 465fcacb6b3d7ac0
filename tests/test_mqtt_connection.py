"""The reporter's connection watch on its own, without a broker: what the station's status
shows and what the log says of failed attempts, short connections and their end."""

import logging

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode

from flashjig.mqtt.connection import SHORT_CONNECTIONS, ConnectionWatch

BROKER = "127.0.0.1:1883"


@pytest.fixture
def shown() -> list[str]:
    """What the station's status was given to show, in order."""
    return []


@pytest.fixture
def watch(shown):
    return ConnectionWatch(BROKER, "flashjig-bench-1", "bench-1", show=shown.append)


def warnings(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "flashjig.mqtt.reporter" and r.levelno == logging.WARNING
    ]


def connect(watch: ConnectionWatch) -> None:
    watch.opened()
    watch.ready()


def test_a_refused_attempt_is_shown_each_time_and_logged_once(watch, shown, caplog):
    for _ in range(3):
        watch.failed(ConnectionRefusedError(111, "Connection refused"))
    said = f"cannot connect to the MQTT broker {BROKER}: connection refused"
    assert shown == [f"{said} (is the broker running, on this port?)"] * 3
    assert warnings(caplog) == [f"{said} (is the broker running, on this port?) (retrying)"]
    assert not watch.connected


def test_short_connections_in_a_row_are_a_second_client_with_our_id(watch, caplog):
    lost = ReasonCode(PacketTypes.DISCONNECT, "Unspecified error")
    for _ in range(SHORT_CONNECTIONS - 1):
        connect(watch)
        watch.closed(lost)
        assert watch.text.startswith(f"lost {BROKER} (")
    connect(watch)
    watch.closed(lost)
    assert "another client uses client id 'flashjig-bench-1'" in watch.text
    assert "station id bench-1?" in warnings(caplog)[-1]
    assert not watch.connected


def test_the_end_of_a_problem_is_said_once_the_connection_has_lasted(watch, caplog, monkeypatch):
    caplog.set_level(logging.INFO, logger="flashjig.mqtt.reporter")
    watch.failed(TimeoutError())
    connect(watch)
    assert watch.text == f"connected to {BROKER}" and watch.connected
    monkeypatch.setattr("flashjig.mqtt.connection.SHORT_CONNECTION_S", 0.0)
    watch.note_stable()
    watch.note_stable()
    ends = [r.getMessage() for r in caplog.records if "(it was:" in r.getMessage()]
    assert ends == [
        f"connected to MQTT broker {BROKER} (it was: cannot connect to the MQTT broker "
        f"{BROKER}: no answer (timed out))"
    ]
