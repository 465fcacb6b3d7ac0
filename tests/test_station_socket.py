"""One socket's state machine, in a station over mock pins and emulated modules: seated,
flashed and taken out (also mid-flash), debounced, retried at the fallback baud, powered
only while seated and held in reset until it is flashed."""

import dataclasses
import time

import pytest
from helpers import state_of, wait_for

from flashjig.emulator import Faults
from flashjig.simulation.hardware import ModuleSpec
from flashjig.simulation.station import simulated_station
from flashjig.station.status import SocketState


@pytest.mark.slow
def test_insert_then_press_flashes_one_module(rig):
    station, hw, journal = rig()
    module = hw.insert("socket1")
    wait_for(lambda: state_of(station, "socket1") is SocketState.INSERTED, what="inserted")
    assert state_of(station, "socket2") is SocketState.EMPTY
    hw.press()
    wait_for(lambda: state_of(station, "socket1") is SocketState.OK, what="ok")
    assert station.sockets["socket1"].status.mac == module.mac_text
    (row,) = journal.attempts()
    assert row.result == "ok" and row.socket == "socket1" and row.mac == module.mac_text
    assert state_of(station, "socket2") is SocketState.EMPTY
    hw.press()  # a flashed module is not flashed again
    time.sleep(0.3)
    assert len(journal.attempts()) == 1
    hw.remove("socket1")
    wait_for(lambda: state_of(station, "socket1") is SocketState.EMPTY, what="empty")


@pytest.mark.slow
def test_insert_trigger_flashes_by_itself(rig):
    station, hw, journal = rig(trigger="insert", settle_time=0.2)
    hw.insert("socket2")
    wait_for(lambda: state_of(station, "socket2") is SocketState.OK, what="auto flash")
    assert [r.socket for r in journal.attempts()] == ["socket2"]


def test_contact_bounce_shorter_than_debounce_is_ignored(rig):
    station, hw, _ = rig(debounce=0.2)
    pin = hw.pin_factory.pin(station.config.socket("socket1").detect)
    for _ in range(5):
        pin.close_switch()
        time.sleep(0.02)
        pin.open_switch()
        time.sleep(0.02)
    time.sleep(0.4)
    assert state_of(station, "socket1") is SocketState.EMPTY
    pin.close_switch()
    wait_for(lambda: state_of(station, "socket1") is SocketState.INSERTED, what="inserted")


@pytest.mark.slow
def test_removal_mid_flash_fails_that_socket_only(rig):
    station, hw, journal = rig(line_rate=True)
    hw.insert("socket1")
    hw.insert("socket2")
    wait_for(lambda: state_of(station, "socket2") is SocketState.INSERTED)
    hw.press()
    wait_for(lambda: station.sockets["socket1"].status.stage == "writing", what="writing")
    hw.remove("socket1")
    wait_for(lambda: not station.sockets["socket1"].busy, what="socket1 wound down")
    assert state_of(station, "socket1") is SocketState.EMPTY
    assert state_of(station, "socket2") is SocketState.FLASHING
    wait_for(lambda: state_of(station, "socket2") is SocketState.OK, timeout=60, what="socket2 ok")
    rows = {r.socket: r for r in journal.attempts()}
    assert rows["socket1"].result in ("failed", "cancelled")
    assert rows["socket1"].reason == "module removed"
    assert rows["socket2"].result == "ok"
    # One row for the pull: the removal is its reason, and the empty socket is not retried.
    assert [r.reason for r in journal.attempts() if r.socket == "socket1"] == ["module removed"]


@pytest.mark.slow
def test_a_module_seated_while_the_pulled_one_winds_down_is_taken_up(rig):
    station, hw, journal = rig(line_rate=True)
    module = hw.insert("socket1")
    wait_for(lambda: state_of(station, "socket1") is SocketState.INSERTED)
    hw.press()
    wait_for(lambda: station.sockets["socket1"].status.stage == "writing", what="writing")
    # Taken out: its adapter stays, so the write waits out its timeout (seconds) ...
    detect = hw.pin_factory.pin(station.config.socket("socket1").detect)
    module.pull()
    detect.open_switch()
    time.sleep(0.2)  # longer than the debounce: a person taking it out and putting it back
    # ... and put back before that: seated again and powered up, it answers again.
    module.faults.silent = False
    detect.close_switch()
    assert station.sockets["socket1"].busy, "the pulled attempt is still winding down"
    wait_for(lambda: not station.sockets["socket1"].busy, what="wound down")
    wait_for(lambda: state_of(station, "socket1") is SocketState.INSERTED, what="taken up again")
    hw.press()
    wait_for(lambda: state_of(station, "socket1") is SocketState.OK, timeout=60, what="ok")
    first, second = journal.attempts()
    assert first.reason == "module removed" and second.result == "ok"


@pytest.mark.slow
def test_module_that_never_syncs_is_retried_at_the_fallback_baud(rig):
    station, hw, journal = rig(retries=2)
    hw.insert("socket3", ModuleSpec(faults=Faults(silent=True)))
    wait_for(lambda: state_of(station, "socket3") is SocketState.INSERTED)
    hw.press()
    wait_for(lambda: state_of(station, "socket3") is SocketState.FAILED, timeout=30)
    rows = journal.attempts()
    assert [r.retry for r in rows] == [0, 1, 2]
    assert all(r.reason == "no sync" for r in rows)
    assert [r.baud for r in rows] == [921600, 115200, 115200]
    assert station.sockets["socket3"].status.reason == "no sync"


@pytest.mark.slow
def test_power_pin_powers_the_socket_only_while_seated(station_config, tmp_path):
    sockets = list(station_config.sockets)
    sockets[0] = dataclasses.replace(sockets[0], power="GPIO1", power_active_low=True)
    retries = dataclasses.replace(station_config.station, retries=2)  # not the shipped file's
    config = dataclasses.replace(station_config, sockets=tuple(sockets), station=retries)
    with simulated_station(config, tmp_path) as (station, hw, _):
        gate = hw.pin_factory.pin("GPIO1")
        assert gate.state is True  # P-MOSFET gate high: off
        module = hw.insert("socket1")
        wait_for(lambda: state_of(station, "socket1") is SocketState.INSERTED)
        assert gate.state is False and module.powered
        hw.press()
        wait_for(lambda: state_of(station, "socket1") is SocketState.OK, timeout=30)
        hw.remove("socket1")
        wait_for(lambda: gate.state is True, what="power off on removal")
        # A module that does not answer is power-cycled before it is tried again.
        hw.insert("socket1", ModuleSpec(faults=Faults(silent=True)))
        wait_for(lambda: state_of(station, "socket1") is SocketState.INSERTED)
        gate.clear_states()
        hw.press()
        wait_for(lambda: state_of(station, "socket1") is SocketState.FAILED, timeout=30)
        cycles = [s.state for s in gate.states[1:]]
        assert cycles == [True, False, True, False]  # off and on again before each retry


@pytest.mark.slow
def test_a_power_cycled_module_comes_up_in_reset(station_config, tmp_path):
    """Power comes on only with EN held low, so the module never starts its old firmware."""
    config = dataclasses.replace(
        station_config, station=dataclasses.replace(station_config.station, retries=1)
    )
    with simulated_station(config, tmp_path) as (station, hw, _):
        socket = config.socket("socket1")  # its power switch: an NPN, high = on
        gate = hw.pin_factory.pin(socket.power)
        en = hw.pin_factory.pin(socket.en)
        en_at_power_on = []
        gate.listeners.append(lambda _, high: en_at_power_on.append(en.state) if high else None)
        hw.insert("socket1", ModuleSpec(faults=Faults(silent=True)))
        wait_for(lambda: state_of(station, "socket1") is SocketState.INSERTED)
        hw.press()
        wait_for(lambda: state_of(station, "socket1") is SocketState.FAILED, timeout=30)
        assert len(en_at_power_on) == 2  # seated, then the power cycle before the retry
        assert en_at_power_on == [False, False]


@pytest.mark.slow
def test_a_seated_module_waits_in_reset_until_it_is_flashed(rig):
    station, hw, _ = rig()
    module = hw.insert("socket1")
    wait_for(lambda: state_of(station, "socket1") is SocketState.INSERTED)
    en = hw.pin_factory.pin(station.config.socket("socket1").en)
    time.sleep(0.3)
    assert en.state is False and module.output == []  # powered, in reset, silent
    hw.press()
    wait_for(lambda: state_of(station, "socket1") is SocketState.OK, timeout=60, what="ok")
    assert en.state is True and b"flashjig demo firmware" in b"".join(module.output)
