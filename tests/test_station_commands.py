"""The station's one set of commands (flashjig.station.commands) and the control socket's
requests that call it (flashjig.station.requests): the refusals are the commands' own
words, whichever transport asked."""

import dataclasses

import pytest
from helpers import state_of, wait_for

from flashjig.errors import ControlError
from flashjig.station.commands import (
    NeedsSimulation,
    NotFlashed,
    Refused,
    StationCommands,
    UnknownProfile,
    UnknownSocket,
)
from flashjig.station.requests import ControlRequests
from flashjig.station.status import SocketState


@pytest.fixture
def commands(rig, station_config):
    spare = dataclasses.replace(station_config.profile, name="spare")
    station, hw, _ = rig(profiles={"spare": spare})
    return StationCommands(station, operator=hw.operator), hw


def test_the_status_is_the_stations_and_renders_as_status_json(commands):
    cmd, _ = commands
    status = cmd.status()
    assert [s.name for s in status.sockets] == list(cmd.station.sockets)
    shown = ControlRequests(cmd)({"cmd": "status"})["status"]
    assert shown == {**status.as_dict(), "uptime_s": shown["uptime_s"]}
    assert "broker" not in shown  # only a station reporting to MQTT says how that goes


def test_flash_says_why_nothing_started(commands):
    cmd, _ = commands
    with pytest.raises(NotFlashed) as refused:
        cmd.flash()
    assert str(refused.value).startswith("nothing to flash: socket1 is empty; socket2 is empty")
    with pytest.raises(NotFlashed, match=r"^not flashed: socket2 is empty$"):
        cmd.flash("socket2")
    # The control socket's answers keep their shape: nothing started is no error there.
    answer = ControlRequests(cmd)
    assert answer({"cmd": "flash"}) == {"ok": True, "started": []}
    assert answer({"cmd": "flash", "socket": "socket2"}) == {
        "ok": True,
        "started": [],
        "why": "socket2 is empty",
    }


def test_flash_one_seated_socket(commands):
    cmd, hw = commands
    hw.insert("socket1")
    wait_for(lambda: state_of(cmd.station, "socket1") is SocketState.INSERTED)
    assert ControlRequests(cmd)({"cmd": "flash", "socket": "socket1"}) == {
        "ok": True,
        "started": ["socket1"],
    }
    wait_for(lambda: state_of(cmd.station, "socket1") is SocketState.OK, timeout=60, what="ok")


def test_an_unknown_socket_is_refused_in_the_same_words_everywhere(commands):
    cmd, _ = commands
    words = "unknown socket 'socket9' (known: socket1, socket2, socket3, socket4, socket5)"
    for ask in (
        lambda: cmd.flash("socket9"),
        lambda: cmd.insert("socket9"),
        lambda: cmd.remove("socket9"),
        lambda: ControlRequests(cmd)({"cmd": "flash", "socket": "socket9"}),
    ):
        with pytest.raises(UnknownSocket) as refused:
            ask()
        assert str(refused.value) == words


def test_the_profile_is_switched_and_an_unknown_one_refused(commands):
    cmd, _ = commands
    answer = ControlRequests(cmd)
    assert answer({"cmd": "profile", "name": "spare"}) == {"ok": True}
    assert cmd.status().profile == "spare"
    with pytest.raises(UnknownProfile, match=r"^unknown profile 'dmeo' \(known: "):
        answer({"cmd": "profile", "name": "dmeo"})
    assert cmd.status().profile == "spare"
    with pytest.raises(ControlError, match="name must be a profile's name"):
        answer({"cmd": "profile", "name": 7})


def test_drain_and_resume(commands):
    cmd, _ = commands
    assert cmd.drain("x" * 500) == []
    status = cmd.status()
    assert status.paused == "x" * 200 and not status.accepting
    cmd.resume()
    assert cmd.status().paused is None and cmd.status().accepting


def test_a_station_without_a_stand_in_refuses_to_play_the_person(commands):
    cmd, _ = commands
    real = StationCommands(cmd.station)
    for ask, name in (
        (lambda: real.insert("socket1"), "insert"),
        (lambda: real.remove("socket1"), "remove"),
        (lambda: real.press(0.1), "press"),
    ):
        with pytest.raises(NeedsSimulation, match=f"^'{name}' needs a simulated station"):
            ask()
    with pytest.raises(Refused, match="cannot reload"):
        real.reload()


def test_press_bounds_and_request_types(commands):
    cmd, _ = commands
    answer = ControlRequests(cmd)
    with pytest.raises(Refused, match="between 0 and 60 seconds"):
        answer({"cmd": "press", "hold": 61})
    with pytest.raises(ControlError, match="hold must be seconds"):
        answer({"cmd": "press", "hold": True})
    with pytest.raises(ControlError, match="socket must be a socket's name"):
        answer({"cmd": "insert", "socket": ["socket1"]})
    with pytest.raises(ControlError, match="^unknown command 'explode'$"):
        answer({"cmd": "explode"})
