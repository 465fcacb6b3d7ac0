"""Each socket learns its safe rates from its first attempts on its current adapter: a rate
that keeps falling back is dropped for that adapter, a new adapter starts afresh, and the
log says so once (SocketRates on journal rows, and a station whose pipeline is a script)."""

import dataclasses
import logging

from helpers import failed_result, ok_result, record, state_of, wait_for

from flashjig.config import StationConfig
from flashjig.flashing.rates import FastConnect, RateStep
from flashjig.flashing.result import Reason
from flashjig.simulation.hardware import ModuleSpec
from flashjig.station import socket as socket_module
from flashjig.station.rates import LEARNED_FROM, SocketRates
from flashjig.station.status import SocketState

SETTINGS = StationConfig()
ADAPTER = "1a86:7523:USB Serial@1-7"


def fell_back(step, reason=None, **rates):
    """A first attempt whose ``step`` fell back: ok, or failed for ``reason`` after all."""
    values = dict(sync_baud=115200, stub_baud=115200, baud=921600) | rates
    result = failed_result("s1", reason) if reason else ok_result("s1")
    result = dataclasses.replace(result, **values)
    result.rate_fallback = step
    return result


def learned(journal, adapter=ADAPTER, settings=SETTINGS):
    history = journal.recent_rates("s1", adapter, LEARNED_FROM)
    return SocketRates("s1", adapter, settings, history)


def test_a_write_rate_the_adapter_cannot_hold_is_dropped_after_one_module(journal):
    assert (learned(journal).write(921600), learned(journal).fast()) == (921600, FastConnect())
    # The stub's change to 921600 fell back: the attempt wrote at 460800 (flashing.pipeline).
    record(journal, fell_back(RateStep.STUB_CHANGE, baud=460800), adapter=ADAPTER)
    rates = learned(journal)  # as a restarted station reads it
    assert rates.write(921600) == 460800 and rates.write(230400) == 230400
    assert rates.fast() == FastConnect(sync=460800, rom_change=True)
    assert learned(journal, adapter="0403:6001:A50285BI:FT232R").write(921600) == 921600


def test_timeouts_at_a_write_rate_drop_it_at_the_second_of_three(journal):
    record(journal, ok_result("s1", sync_baud=460800, stub_baud=460800), adapter=ADAPTER)
    record(journal, fell_back(RateStep.NONE, Reason.TIMEOUT), adapter=ADAPTER)
    assert learned(journal).write(921600) == 921600
    record(journal, fell_back(RateStep.NONE, Reason.SERIAL_ERROR), adapter=ADAPTER)
    assert learned(journal).write(921600) == 460800


def test_a_failure_before_the_stub_ran_does_not_count_against_the_write_rate(journal):
    for _ in range(3):
        record(journal, failed_result("s1", Reason.TIMEOUT), adapter=ADAPTER)
    assert learned(journal).write(921600) == 921600


def test_an_adapter_that_never_syncs_high_drops_a_rung_and_warns_once(journal, caplog):
    rates = learned(journal)
    with caplog.at_level(logging.WARNING, logger="flashjig.station.rates"):
        for _ in range(8):
            rates.learn(fell_back(RateStep.SYNC, baud=460800))
    assert rates.sync == 115200 and rates.fast() == FastConnect(sync=115200)
    [warning] = caplog.messages
    assert warning.startswith("s1: 6 of the last 6 modules needed a fallback (sync; adapter ")
    assert ADAPTER in warning and "syncing at 230400 from now" in warning
    no_rom = dataclasses.replace(SETTINGS, rom_baud_change=False)
    assert SocketRates("s1", ADAPTER, no_rom, []).fast() == FastConnect(460800, False)
    assert (
        SocketRates("s1", ADAPTER, dataclasses.replace(no_rom, sync_baud=115200), []).fast() is None
    )


def test_a_third_of_roms_not_syncing_high_keeps_the_rate_and_warns_nobody(journal, caplog):
    with caplog.at_level(logging.WARNING, logger="flashjig.station.rates"):
        for n in range(1, 13):
            if n % 3:
                record(
                    journal, ok_result("s1", sync_baud=460800, stub_baud=460800), adapter=ADAPTER
                )
            else:
                record(journal, fell_back(RateStep.SYNC), adapter=ADAPTER)
        rates = learned(journal)
    assert rates.sync == 460800 and caplog.messages == []
    assert rates.shown(921600).as_dict() == {
        "sync": 460800, "write": 921600, "adapter": ADAPTER, "fallbacks": 4
    }  # fmt: skip


def test_the_rom_change_is_turned_off_after_two_fallbacks(journal):
    record(journal, fell_back(RateStep.ROM_CHANGE), adapter=ADAPTER)
    assert learned(journal).fast() == FastConnect(460800, True)
    record(journal, fell_back(RateStep.ROM_CHANGE), adapter=ADAPTER)
    assert learned(journal).fast() == FastConnect(460800, False)


class Script:
    """The pipeline as a script: each job kept, each attempt's result from ``results``."""

    def __init__(self, results):
        self.jobs = []
        self.results = list(results)

    def __call__(self, job):
        self.jobs.append(job)
        result = self.results.pop(0)
        return dataclasses.replace(result, socket=job.socket, baud=job.baud)


def flash_module(station, hw, name="socket1", spec=None):
    hw.insert(name, spec)
    wait_for(lambda: state_of(station, name) is SocketState.INSERTED, what="inserted")
    assert station.flash_one(name)
    wait_for(lambda: state_of(station, name) in (SocketState.OK, SocketState.FAILED), what="done")
    hw.remove(name)
    wait_for(lambda: state_of(station, name) is SocketState.EMPTY, what="empty")


def test_module_2_goes_at_the_rate_module_1_held_and_so_after_a_restart(rig):
    """An adapter that does not hold 921600 (emulator: adapter_max_baud): module 1's stub
    falls back and writes at 460800 in the same attempt; module 2 starts at 460800 with no
    fallback, and so does a module after a restart; a swapped adapter starts afresh."""
    weak = ModuleSpec(adapter_max_baud=460800)
    station, hw, journal = rig()
    assert station.status().as_dict()["sockets"][0]["rates"] == {
        "sync": 460800,
        "write": 921600,
        "adapter": "sim:socket1",
        "fallbacks": 0,
    }
    flash_module(station, hw, spec=weak)
    assert station.status().as_dict()["sockets"][0]["rates"]["write"] == 460800
    flash_module(station, hw, spec=weak)
    station.stop()
    station, hw, journal = rig()  # a restart: a new station on the same journal
    flash_module(station, hw, spec=weak)
    flash_module(station, hw, spec=ModuleSpec(adapter="0403:6001:A50285BI:FT232R"))
    rows = journal.attempts()
    assert [(r.result, r.baud, r.sync_baud, r.stub_baud, r.rate_fallback) for r in rows] == [
        ("ok", 460800, 115200, 115200, "stub-baud"),
        ("ok", 460800, 460800, 460800, ""),
        ("ok", 460800, 460800, 460800, ""),
        ("ok", 921600, 460800, 460800, ""),
    ]
    assert [r.adapter for r in rows] == ["sim:socket1"] * 3 + ["0403:6001:A50285BI:FT232R"]


def test_a_retry_starts_as_esptool_does(rig, monkeypatch):
    script = Script([failed_result("socket1", Reason.TIMEOUT), ok_result("socket1")])
    monkeypatch.setattr(socket_module, "flash", script)
    station, hw, _ = rig()
    flash_module(station, hw)
    first, retry = script.jobs
    assert (first.baud, first.fast) == (921600, FastConnect(460800, True))
    assert (retry.baud, retry.fast) == (115200, None)  # exactly today's path
