"""The station over its sockets: five flashing at once, the button (a long press cancels
what runs, or recovers seated modules when nothing does), listeners that fail, and serials
handed out from the journal."""

import dataclasses
import os
import threading
import time

import pytest
from helpers import state_of, wait_for

from flashjig.cli.statusview import render
from flashjig.flashing.result import FlashResult, Reason
from flashjig.station.status import SocketState


@pytest.mark.slow
def test_five_sockets_flash_at_once(rig):
    station, hw, journal = rig()
    for name in station.sockets:
        hw.insert(name)
    wait_for(lambda: all(s.status.state is SocketState.INSERTED for s in station.sockets.values()))
    hw.press()
    wait_for(
        lambda: (
            all(s.busy for s in station.sockets.values())
            or all(s.status.state is SocketState.OK for s in station.sockets.values())
        ),
        what="all running",
    )
    wait_for(
        lambda: all(s.status.state is SocketState.OK for s in station.sockets.values()),
        timeout=60,
        what="all ok",
    )
    rows = journal.attempts()
    assert sorted(r.socket for r in rows) == sorted(station.sockets)
    assert len({r.mac for r in rows}) == 5
    started = sorted(r.started_at for r in rows)
    finished = sorted(r.finished_at for r in rows)
    assert started[-1] < finished[0], "the five attempts overlapped in time"


def test_a_failing_listener_does_not_leave_a_socket_stuck(rig, caplog):
    station, hw, _ = rig()
    failed = []

    def dashboard(status):
        if status.state is SocketState.FLASHING and not failed:
            failed.append(status.name)
            raise RuntimeError("dashboard down")

    station.subscribe(dashboard)
    hw.insert("socket1")
    wait_for(lambda: state_of(station, "socket1") is SocketState.INSERTED)
    hw.press()
    wait_for(lambda: state_of(station, "socket1") is SocketState.OK, timeout=60, what="ok")
    assert failed == ["socket1"]
    assert "socket1: showing its new state failed" in caplog.text


@pytest.mark.slow
def test_long_press_cancels_running_flashes(rig):
    station, hw, journal = rig(line_rate=True, hold_time=0.3)
    hw.insert("socket1")
    wait_for(lambda: state_of(station, "socket1") is SocketState.INSERTED)
    hw.press()
    wait_for(lambda: station.sockets["socket1"].status.stage == "writing", what="writing")
    hw.press(hold=0.6)
    wait_for(lambda: state_of(station, "socket1") is SocketState.FAILED, what="cancelled")
    (row,) = journal.attempts()
    assert row.result == "cancelled" and row.reason == "cancelled"


@pytest.mark.slow
def test_long_press_with_nothing_running_recovers_seated_modules(rig, station_config):
    recovery = dataclasses.replace(station_config.profile, name="recovery", erase="all")
    station, hw, journal = rig(
        profiles={"recovery": recovery}, recovery_profile="recovery", hold_time=0.3
    )
    hw.insert("socket1")
    wait_for(lambda: state_of(station, "socket1") is SocketState.INSERTED)
    hw.press()
    wait_for(lambda: state_of(station, "socket1") is SocketState.OK, what="first flash")
    hw.press(hold=0.6)  # nothing running: recover
    wait_for(lambda: len(journal.attempts()) == 2, what="recovery attempt")
    wait_for(lambda: journal.attempts()[-1].result != "started", what="recovery done")
    first, recovered = journal.attempts()
    assert (first.profile, recovered.profile) == ("demo", "recovery")
    assert recovered.result == "ok" and recovered.bytes == 0x100000  # erased: rewritten


@pytest.mark.slow
def test_units_get_serials_from_the_journal(rig, station_config, tmp_path):
    from flashjig.config import Identity, ImageSpec
    from flashjig.emulator.firmware import build_firmware

    image = tmp_path / "half.bin"  # leaves room for the unit record at 0xFB000
    image.write_bytes(build_firmware(0x80000))
    units = dataclasses.replace(
        station_config.profile,
        name="units",
        images=(ImageSpec(0, image),),
        identity=Identity(mode="record", offset=0xFB000),
    )
    config_profiles = {"units": units}
    station, hw, journal = rig(profiles=config_profiles, serial_range=(100, 199))
    station.set_profile("units")
    for name in ("socket1", "socket2"):
        hw.insert(name)
    wait_for(lambda: state_of(station, "socket2") is SocketState.INSERTED)
    hw.press()
    wait_for(
        lambda: all(state_of(station, n) is SocketState.OK for n in ("socket1", "socket2")),
        timeout=60,
    )
    rows = journal.attempts()
    assert sorted(r.serial for r in rows) == [100, 101]
    assert {r.client_id for r in rows} == {"node-100", "node-101"}
    assert {u.mac for u in journal.units()} == {r.mac for r in rows}


@pytest.mark.slow
def test_the_bouncing_release_after_a_long_press_never_flashes(rig):
    """Let go after a hold, the button's contacts bounce: those are no short press."""
    station, hw, journal = rig(hold_time=0.3)
    hw.insert("socket1")
    wait_for(lambda: state_of(station, "socket1") is SocketState.INSERTED)
    button = hw.pin_factory.pin(station.config.station.button)
    button.close_switch()
    time.sleep(0.5)  # past the hold time: nothing runs and no recovery profile, so nothing
    for _ in range(3):  # contact bounce, a few milliseconds each
        button.open_switch()
        time.sleep(0.003)
        button.close_switch()
        time.sleep(0.003)
    button.open_switch()
    time.sleep(0.5)
    assert state_of(station, "socket1") is SocketState.INSERTED
    assert journal.attempts() == []
    hw.press()  # a real short press still flashes
    wait_for(lambda: state_of(station, "socket1") is not SocketState.INSERTED, what="flashing")


def test_a_stop_waits_for_all_sockets_at_once_against_one_deadline(rig, monkeypatch):
    """Sockets that do not wind down hold a stop up for STOP_S in all, not each."""
    from flashjig.station import socket as socket_module
    from flashjig.station import station as station_module

    release = threading.Event()

    def stuck(job):  # a flash that ignores its cancel (an esptool call that hangs)
        release.wait(10)
        return FlashResult(job.socket, reason=Reason.CANCELLED)

    monkeypatch.setattr(socket_module, "flash", stuck)
    monkeypatch.setattr(station_module, "STOP_S", 0.5, raising=False)
    station, hw, _ = rig()
    for name in ("socket1", "socket2", "socket3"):
        hw.insert(name)
    wait_for(lambda: state_of(station, "socket3") is SocketState.INSERTED)
    hw.press()
    wait_for(lambda: all(station.sockets[n].busy for n in ("socket1", "socket2", "socket3")))
    started = time.monotonic()
    try:
        station.stop()
        assert time.monotonic() - started < 1.5
    finally:
        release.set()


def changes_within(pin, seconds: float) -> int:
    """How many times a mock pin changed in the last ``seconds``."""
    pin.clear_states()
    time.sleep(seconds)
    return len(pin.states) - 1


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small disk needs root")
def test_a_full_disk_keeps_the_outcome_and_takes_no_new_module(station_config, small_disk):
    """Written and verified, then the journal cannot record it: the module still shows ok,
    the outcome is held and recorded once the disk has room, and meanwhile the station
    takes no new module, says why, and its light strobes instead of beating."""
    from flashjig.simulation.station import simulated_station

    disk, fill = small_disk
    lit = dataclasses.replace(station_config.station, status_led="GPIO1")
    config = dataclasses.replace(station_config, station=lit)
    with simulated_station(config, disk) as (station, hw, journal):
        light = hw.pin_factory.pin("GPIO1")
        assert changes_within(light, 1.0) <= 2  # a heartbeat: 0.1 s on every second
        hw.insert("socket1")
        hw.insert("socket2")
        wait_for(lambda: state_of(station, "socket2") is SocketState.INSERTED)
        assert station.flash_one("socket1")
        wait_for(lambda: station.sockets["socket1"].status.stage == "writing", what="writing")
        fill()
        wait_for(lambda: not station.sockets["socket1"].busy, timeout=60, what="done")
        assert state_of(station, "socket1") is SocketState.OK
        status = station.status()
        assert "cannot be written" in status.journal and not status.accepting
        assert changes_within(light, 1.0) >= 8  # a strobe: 5 Hz
        assert not station.flash_one("socket2")  # nothing it could not record
        assert [r.result for r in journal.attempts()] == ["started"]
        station.record_unrecorded()  # still full: still held
        assert len(station.unrecorded) == 1
        (disk / "filler").unlink()
        station.record_unrecorded()
        (row,) = journal.attempts()
        assert row.result == "ok" and row.socket == "socket1" and row.mac
        assert not row.published  # nobody published it: the outbox will
        assert station.status().journal == "ok" and station.accepting
        assert changes_within(light, 1.0) <= 2
        assert station.flash_one("socket2")


def test_the_batch_says_how_many_are_left(rig):
    """station.batch: the status counts today's ok modules off the batch, and shows it."""
    station, hw, _ = rig(batch=3)
    status = station.status()
    assert (status.batch, status.batch_left) == (3, 3)
    hw.insert("socket1")
    wait_for(lambda: state_of(station, "socket1") is SocketState.INSERTED)
    assert station.flash_one("socket1")
    wait_for(lambda: state_of(station, "socket1") is SocketState.OK, timeout=60, what="ok")
    shown = station.status().as_dict()
    assert shown["batch"] == {"size": 3, "left": 2}
    assert "  batch: 1 of 3 flashed today, 2 left" in render(shown)
    assert shown["sockets"][0]["rates"]["write"] == station.config.profile.baud
    rates = shown["sockets"][0]["rates"]
    assert "  BAUD  " in render(shown) and f"{rates['sync']}/{rates['write']}" in render(shown)
    assert "batch" not in dataclasses.replace(station.status(), batch=None).as_dict()


@pytest.mark.slow
def test_one_socket_cancelled_the_others_flash_on(rig):
    """ctl cancel SOCKET (and the page's tile, MQTT's cmd/cancel/SOCKET): that module's
    attempt ends cancelled, the module beside it is flashed ok."""
    from flashjig.station.commands import StationCommands, UnknownSocket
    from flashjig.station.requests import ControlRequests

    station, hw, journal = rig(line_rate=True)
    ask = ControlRequests(StationCommands(station))
    for name in ("socket1", "socket2"):
        hw.insert(name)
        wait_for(lambda n=name: state_of(station, n) is SocketState.INSERTED)
    assert ask({"cmd": "flash"})["started"] == ["socket1", "socket2"]
    wait_for(lambda: station.sockets["socket1"].status.stage == "writing", what="writing")
    assert ask({"cmd": "cancel", "socket": "socket3"}) == {"ok": True, "cancelled": []}
    assert ask({"cmd": "cancel", "socket": "socket1"}) == {"ok": True, "cancelled": ["socket1"]}
    wait_for(lambda: state_of(station, "socket1") is SocketState.FAILED, what="cancelled")
    wait_for(lambda: state_of(station, "socket2") is SocketState.OK, timeout=60, what="ok")
    results = {row.socket: (row.result, row.reason) for row in journal.attempts()}
    assert results == {"socket1": ("cancelled", "cancelled"), "socket2": ("ok", None)}
    with pytest.raises(UnknownSocket):
        ask({"cmd": "cancel", "socket": "socket9"})
