"""The station in one process: sockets, button, LEDs and journal over mock pins and
emulated modules."""

import contextlib
import dataclasses
import time

import pytest
from gpiozero.pins.mock import MockFactory

from flashjig.config import LedPins
from flashjig.emulator import Faults
from flashjig.hardware.leds import FAILED_BLINK, FLASHING_BLINK
from flashjig.hardware.pins import StrapLine
from flashjig.hardware.strapping import RESET_HOLD_S, ModuleLines
from flashjig.simulation.hardware import ModuleSpec
from flashjig.simulation.station import simulated_station
from flashjig.station.socket import SocketState


def wait_for(predicate, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def rig(station_config, tmp_path):
    """Build a station over simulated hardware; settings may be overridden per test."""
    running = contextlib.ExitStack()

    def build(line_rate=False, bicolour=False, profiles=None, **station_settings):
        config = station_config
        if profiles:
            config = dataclasses.replace(config, profiles={**config.profiles, **profiles})
        if bicolour:  # hw/README.md's variant: red LEDs on the power pins, no power switches
            sockets = tuple(
                dataclasses.replace(s, led=LedPins(red=s.power, green=s.led.green), power=None)
                for s in config.sockets
            )
            config = dataclasses.replace(config, sockets=sockets)
        if station_settings:
            station = dataclasses.replace(config.station, **station_settings)
            config = dataclasses.replace(config, station=station)
        return running.enter_context(simulated_station(config, tmp_path, line_rate=line_rate))

    with running:
        yield build


def state(station, name):
    return station.sockets[name].status.state


def test_insert_then_press_flashes_one_module(rig):
    station, hw, journal = rig()
    module = hw.insert("socket1")
    wait_for(lambda: state(station, "socket1") is SocketState.INSERTED, what="inserted")
    assert state(station, "socket2") is SocketState.EMPTY
    hw.press()
    wait_for(lambda: state(station, "socket1") is SocketState.OK, what="ok")
    assert station.sockets["socket1"].status.mac == module.mac_text
    (row,) = journal.attempts()
    assert row.result == "ok" and row.socket == "socket1" and row.mac == module.mac_text
    assert state(station, "socket2") is SocketState.EMPTY
    hw.press()  # a flashed module is not flashed again
    time.sleep(0.3)
    assert len(journal.attempts()) == 1
    hw.remove("socket1")
    wait_for(lambda: state(station, "socket1") is SocketState.EMPTY, what="empty")


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


def test_insert_trigger_flashes_by_itself(rig):
    station, hw, journal = rig(trigger="insert", settle_time=0.2)
    hw.insert("socket2")
    wait_for(lambda: state(station, "socket2") is SocketState.OK, what="auto flash")
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
    assert state(station, "socket1") is SocketState.EMPTY
    pin.close_switch()
    wait_for(lambda: state(station, "socket1") is SocketState.INSERTED, what="inserted")


def test_removal_mid_flash_fails_that_socket_only(rig):
    station, hw, journal = rig(line_rate=True)
    hw.insert("socket1")
    hw.insert("socket2")
    wait_for(lambda: state(station, "socket2") is SocketState.INSERTED)
    hw.press()
    wait_for(lambda: station.sockets["socket1"].status.stage == "writing", what="writing")
    hw.remove("socket1")
    wait_for(lambda: not station.sockets["socket1"].busy, what="socket1 wound down")
    assert state(station, "socket1") is SocketState.EMPTY
    assert state(station, "socket2") is SocketState.FLASHING
    wait_for(lambda: state(station, "socket2") is SocketState.OK, timeout=60, what="socket2 ok")
    rows = {r.socket: r for r in journal.attempts()}
    assert rows["socket1"].result in ("failed", "cancelled")
    assert rows["socket1"].reason == "module removed"
    assert rows["socket2"].result == "ok"


def test_a_module_seated_while_the_pulled_one_winds_down_is_taken_up(rig):
    station, hw, journal = rig(line_rate=True)
    module = hw.insert("socket1")
    wait_for(lambda: state(station, "socket1") is SocketState.INSERTED)
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
    wait_for(lambda: state(station, "socket1") is SocketState.INSERTED, what="taken up again")
    hw.press()
    wait_for(lambda: state(station, "socket1") is SocketState.OK, timeout=60, what="ok")
    first, second = journal.attempts()
    assert first.reason == "module removed" and second.result == "ok"


def test_a_failing_listener_does_not_leave_a_socket_stuck(rig, caplog):
    station, hw, _ = rig()
    failed = []

    def dashboard(socket):
        if socket.status.state is SocketState.FLASHING and not failed:
            failed.append(socket.name)
            raise RuntimeError("dashboard down")

    station.listeners.append(dashboard)
    hw.insert("socket1")
    wait_for(lambda: state(station, "socket1") is SocketState.INSERTED)
    hw.press()
    wait_for(lambda: state(station, "socket1") is SocketState.OK, timeout=60, what="ok")
    assert failed == ["socket1"]
    assert "socket1: showing its new state failed" in caplog.text


def test_module_that_never_syncs_is_retried_at_the_fallback_baud(rig):
    station, hw, journal = rig(retries=2)
    hw.insert("socket3", ModuleSpec(faults=Faults(silent=True)))
    wait_for(lambda: state(station, "socket3") is SocketState.INSERTED)
    hw.press()
    wait_for(lambda: state(station, "socket3") is SocketState.FAILED, timeout=30)
    rows = journal.attempts()
    assert [r.retry for r in rows] == [0, 1, 2]
    assert all(r.reason == "no sync" for r in rows)
    assert [r.baud for r in rows] == [921600, 115200, 115200]
    assert station.sockets["socket3"].status.reason == "no sync"


def test_long_press_cancels_running_flashes(rig):
    station, hw, journal = rig(line_rate=True, hold_time=0.3)
    hw.insert("socket1")
    wait_for(lambda: state(station, "socket1") is SocketState.INSERTED)
    hw.press()
    wait_for(lambda: station.sockets["socket1"].status.stage == "writing", what="writing")
    hw.press(hold=0.6)
    wait_for(lambda: state(station, "socket1") is SocketState.FAILED, what="cancelled")
    (row,) = journal.attempts()
    assert row.result == "cancelled" and row.reason == "cancelled"


def test_led_patterns(rig):
    station, hw, _ = rig(line_rate=True, bicolour=True)
    leds = station.config.socket("socket1").led
    red, green = hw.pin_factory.pin(leds.red), hw.pin_factory.pin(leds.green)
    assert (red.state, green.state) == (False, False)  # empty: off
    hw.insert("socket1")
    wait_for(lambda: state(station, "socket1") is SocketState.INSERTED)
    wait_for(lambda: (red.state, green.state) == (True, True), what="amber")
    hw.press()
    wait_for(lambda: station.sockets["socket1"].status.stage == "writing", what="writing")
    green.clear_states()
    time.sleep(1.1)
    toggles = [s for s in green.states[1:]]
    assert len(toggles) >= 6, "green blinks while flashing"
    half = FLASHING_BLINK[0]
    assert all(abs(s.timestamp - half) < 0.06 for s in toggles[1:])
    assert red.state is False
    wait_for(lambda: state(station, "socket1") is SocketState.OK, timeout=60)
    wait_for(lambda: (red.state, green.state) == (False, True), what="solid green")


def test_failed_socket_shows_red(rig):
    station, hw, _ = rig(retries=0, bicolour=True)
    hw.insert("socket4", ModuleSpec(faults=Faults(silent=True)))
    wait_for(lambda: state(station, "socket4") is SocketState.INSERTED)
    hw.press()
    wait_for(lambda: state(station, "socket4") is SocketState.FAILED, timeout=20)
    leds = station.config.socket("socket4").led
    red, green = hw.pin_factory.pin(leds.red), hw.pin_factory.pin(leds.green)
    assert (red.state, green.state) == (True, False)


def test_single_led_blinks_fast_on_failure(station_config, tmp_path):
    config = dataclasses.replace(  # the shipped sockets have one (green) LED
        station_config, station=dataclasses.replace(station_config.station, retries=0)
    )
    with simulated_station(config, tmp_path) as (station, hw, _):
        hw.insert("socket1", ModuleSpec(faults=Faults(silent=True)))
        wait_for(lambda: state(station, "socket1") is SocketState.INSERTED)
        hw.press()
        wait_for(lambda: state(station, "socket1") is SocketState.FAILED, timeout=20)
        red = hw.pin_factory.pin(config.socket("socket1").led.green)
        red.clear_states()
        time.sleep(0.7)
        toggles = red.states[1:]
        assert len(toggles) >= 5
        assert all(abs(s.timestamp - FAILED_BLINK[0]) < 0.05 for s in toggles[1:])


def test_power_pin_powers_the_socket_only_while_seated(station_config, tmp_path):
    sockets = list(station_config.sockets)
    sockets[0] = dataclasses.replace(sockets[0], power="GPIO1", power_active_low=True)
    config = dataclasses.replace(station_config, sockets=tuple(sockets))
    with simulated_station(config, tmp_path) as (station, hw, _):
        gate = hw.pin_factory.pin("GPIO1")
        assert gate.state is True  # P-MOSFET gate high: off
        module = hw.insert("socket1")
        wait_for(lambda: state(station, "socket1") is SocketState.INSERTED)
        assert gate.state is False and module.powered
        hw.press()
        wait_for(lambda: state(station, "socket1") is SocketState.OK, timeout=30)
        hw.remove("socket1")
        wait_for(lambda: gate.state is True, what="power off on removal")
        # A module that does not answer is power-cycled before it is tried again.
        hw.insert("socket1", ModuleSpec(faults=Faults(silent=True)))
        wait_for(lambda: state(station, "socket1") is SocketState.INSERTED)
        gate.clear_states()
        hw.press()
        wait_for(lambda: state(station, "socket1") is SocketState.FAILED, timeout=30)
        cycles = [s.state for s in gate.states[1:]]
        assert cycles == [True, False] * station.config.station.retries


def test_long_press_with_nothing_running_recovers_seated_modules(rig, station_config):
    recovery = dataclasses.replace(station_config.profile, name="recovery", erase="all")
    station, hw, journal = rig(
        profiles={"recovery": recovery}, recovery_profile="recovery", hold_time=0.3
    )
    hw.insert("socket1")
    wait_for(lambda: state(station, "socket1") is SocketState.INSERTED)
    hw.press()
    wait_for(lambda: state(station, "socket1") is SocketState.OK, what="first flash")
    hw.press(hold=0.6)  # nothing running: recover
    wait_for(lambda: len(journal.attempts()) == 2, what="recovery attempt")
    wait_for(lambda: journal.attempts()[-1].result != "started", what="recovery done")
    first, recovered = journal.attempts()
    assert (first.profile, recovered.profile) == ("demo", "recovery")
    assert recovered.result == "ok" and recovered.bytes == 0x100000  # erased: rewritten


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
    wait_for(lambda: state(station, "socket2") is SocketState.INSERTED)
    hw.press()
    wait_for(
        lambda: all(state(station, n) is SocketState.OK for n in ("socket1", "socket2")), timeout=60
    )
    rows = journal.attempts()
    assert sorted(r.serial for r in rows) == [100, 101]
    assert {r.client_id for r in rows} == {"node-100", "node-101"}
    assert {u.mac for u in journal.units()} == {r.mac for r in rows}


def test_a_seated_module_waits_in_reset_until_it_is_flashed(rig):
    station, hw, _ = rig()
    module = hw.insert("socket1")
    wait_for(lambda: state(station, "socket1") is SocketState.INSERTED)
    en = hw.pin_factory.pin(station.config.socket("socket1").en)
    time.sleep(0.3)
    assert en.state is False and module.output == []  # powered, in reset, silent
    hw.press()
    wait_for(lambda: state(station, "socket1") is SocketState.OK, timeout=60, what="ok")
    assert en.state is True and b"flashjig demo firmware" in b"".join(module.output)


def test_the_reset_before_a_flash_counts_a_hold_under_way():
    factory = MockFactory()
    lines = ModuleLines(
        StrapLine("GPIO4", pin_factory=factory), StrapLine("GPIO5", pin_factory=factory)
    )
    en = factory.pin("GPIO5")
    lines.hold_in_reset()
    time.sleep(RESET_HOLD_S / 4)
    lines.enter_bootloader()
    assert en.states[-1].state is True and en.states[-1].timestamp >= RESET_HOLD_S  # full hold
    lines.hold_in_reset()
    time.sleep(2 * RESET_HOLD_S)
    lines.enter_bootloader()
    low = en.states[-1].timestamp
    assert 2 * RESET_HOLD_S <= low < 2.8 * RESET_HOLD_S  # released at once, no second hold
    lines.close()
