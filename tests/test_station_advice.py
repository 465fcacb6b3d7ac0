"""What to try, on a socket's status: every reason has words, a counterfeit says what it
holds and claims (and that wins over the reason), the serial and flash size travel with it."""

import pytest
from helpers import failed_result, ok_result, wait_for

from flashjig.flashing.result import Reason
from flashjig.simulation.hardware import ModuleSpec
from flashjig.simulation.station import simulated_station
from flashjig.station.advice import WHAT_TO_TRY, what_to_try
from flashjig.station.commands import StationCommands
from flashjig.station.status import SocketState, SocketStatus


def test_every_reason_says_what_to_try():
    assert set(WHAT_TO_TRY) == set(Reason)
    assert all(len(words) > 10 for words in WHAT_TO_TRY.values())


def test_a_reason_another_version_wrote_has_no_advice():
    assert what_to_try(Reason("flux capacitor"), None, None) == ""
    assert what_to_try(None, "4MB", None) == ""


def test_a_counterfeit_says_what_it_holds_and_claims_whatever_the_reason():
    assert what_to_try(None, "1MB", "4MB") == "counterfeit: holds 1 MB, claims 4 MB"
    assert what_to_try(Reason.FLASH_TOO_SMALL, "512KB", "4MB") == (
        "counterfeit: holds 512 KB, claims 4 MB"
    )


def test_a_finished_socket_carries_the_unit_and_the_advice_until_the_next_module():
    result = failed_result("socket1", Reason.NO_SYNC)
    shown = SocketStatus("socket1").inserted().flashing().finished(result, removed=False)
    assert shown.as_dict()["advice"] == WHAT_TO_TRY[Reason.NO_SYNC]
    good = ok_result("socket1", serial=17, client_id="lamp-0017", flash_size="4MB")
    shown = shown.inserted().flashing().finished(good, removed=False)
    data = shown.as_dict()
    assert (data["serial"], data["client_id"], data["flash_size"]) == (17, "lamp-0017", "4MB")
    assert data["advice"] == ""
    data = shown.inserted().as_dict()
    assert (data["serial"], data["client_id"], data["advice"]) == (None, None, "")


def test_flashjig_status_says_what_to_try_under_the_socket():
    from flashjig.cli.statusview import render

    failed = SocketStatus("socket1").inserted().flashing()
    failed = failed.finished(failed_result("socket1", Reason.NO_SYNC), removed=False)
    ok = SocketStatus("socket2").inserted().flashing()
    ok = ok.finished(ok_result("socket2"), removed=False)
    status = {
        "station": "jig-1", "profile": "demo", "trigger": "button",
        "today": {"ok": 1, "failed": 1}, "total": {"ok": 1, "failed": 1},
        "sockets": [failed.as_dict(), ok.as_dict()],
    }  # fmt: skip
    lines = render(status).splitlines()
    at = next(i for i, line in enumerate(lines) if " socket1 " in line)
    assert lines[at + 1].strip() == WHAT_TO_TRY[Reason.NO_SYNC]
    assert " socket2 " in lines[at + 2]  # nothing to try under an ok socket


@pytest.mark.slow
def test_a_counterfeit_module_is_named_on_its_socket(station_config, tmp_path):
    with simulated_station(station_config, tmp_path / "state") as (station, hardware, _j):
        hardware.insert("socket1", ModuleSpec(flash_size="1MB", claimed_size="4MB"))
        wait_for(lambda: station.status().sockets[0].state is SocketState.INSERTED)
        StationCommands(station).flash("socket1")
        wait_for(
            lambda: station.status().sockets[0].state in (SocketState.OK, SocketState.FAILED),
            timeout=60,
            what="socket1 finished",
        )
        data = station.status().sockets[0].as_dict()
        assert data["advice"] == "counterfeit: holds 1 MB, claims 4 MB", data
        assert (data["flash_size"], data["claimed_flash_size"]) == ("1MB", "4MB")
