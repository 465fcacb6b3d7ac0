"""What the fleet viewer accepts from a station (flashjig.mqtt.incoming): everything a
station publishes, and nothing that would break the view, refused in one line that says
what is wrong."""

import json

import pytest
from helpers import failed_result, ok_result, record

from flashjig.flashing.result import Reason
from flashjig.mqtt.incoming import (
    RESULT,
    Refused,
    check_availability,
    check_result,
    check_socket_state,
    check_station_state,
    one_line,
)
from flashjig.mqtt.result import FIELDS, result_event
from flashjig.station.rates import LearnedRates
from flashjig.station.status import SocketState, SocketStatus


def payload(value) -> bytes:
    return json.dumps(value).encode()


def test_every_field_of_the_result_event_is_checked():
    assert RESULT.keys() == FIELDS.keys()


def test_what_a_station_publishes_is_accepted(journal):
    rows = [
        record(journal, ok_result(serial=17, client_id="node-17")),
        record(journal, failed_result(reason=Reason.VERIFY_FAILED)),
    ]
    for row in rows:
        event = result_event(row)
        assert check_result(payload(event)) == event
    # A result from a station before chip_revision and boot_log were added to schema 1.
    older = {
        k: v for k, v in result_event(rows[0]).items() if k not in ("chip_revision", "boot_log")
    }
    assert check_result(payload(older)) == older

    busy = SocketStatus("socket1", SocketState.FLASHING, progress=41.5, attempt=1, mac="aa")
    learned = busy.with_rates(LearnedRates(460800, 921600, "1a86:7523:A5:USB", 1))
    for status in (SocketStatus("socket1"), busy, learned):
        state = {**status.as_dict(), "inserted": True}
        assert check_socket_state(payload(state)) == state
    assert check_availability(b"offline") == "offline"


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"id": float("inf")}, '"id" is Infinity, not a whole number from 1'),
        ({"id": 2**63}, '"id" is 9223372036854775808, not a whole number from 1'),
        ({"id": True}, '"id" is true, not a whole number from 1'),
        ({"reason": {"a": 1}}, '"reason" is {"a": 1}, not text or null'),
        ({"result": "started"}, '"result" is "started", not ok, failed, cancelled, interrupted'),
        ({"schema": 2}, '"schema" is 2, not 1, the schema this viewer reads'),
        ({"started_at": "yesterday"}, '"started_at" is "yesterday", not a time in ISO 8601'),
        ({"duration_s": float("nan")}, '"duration_s" is NaN, not a number or null'),
        ({"images": [{"name": 3}]}, '"images" is [{"name": 3}], not a list of images'),
        (  # a long value, cut short
            {"detail": 5 * ["x" * 20]},
            '"detail" is ["xxxxxxxxxxxxxxxxxxxx", "xxxxxxxxxxx..., not text',
        ),
    ],
)
def test_a_result_that_does_not_match_says_what_is_wrong(journal, changes, why):
    event = {**result_event(record(journal, ok_result())), **changes}
    with pytest.raises(Refused) as refused:
        check_result(payload(event))
    assert str(refused.value).startswith(why)


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"\xff{}", "not UTF-8 text (byte 0 is 0xff)"),
        (b"{", "not JSON (Expecting property name enclosed in double quotes"),
        (b"[" * 100_000, "not JSON the viewer can read (nested too deep)"),
        (b"[1, 2]", "[1, 2] is not a JSON object"),
        (b"{}", 'no "schema"'),
    ],
)
def test_a_payload_that_is_no_result_says_what_it_is(raw, why):
    with pytest.raises(Refused) as refused:
        check_result(raw)
    assert str(refused.value).startswith(why)


def test_states_that_do_not_match_say_what_is_wrong():
    cases = [
        (check_station_state, {"serial_range": ["a", {}]}, '"serial_range" is ["a", {}]'),
        (check_station_state, {"serial_range": [9, 1]}, '"serial_range" is [9, 1]'),
        (check_station_state, {"ok_today": -1}, '"ok_today" is -1, not a whole number from 0'),
        (check_socket_state, {"progress": "x"}, '"progress" is "x", not a number'),
        (check_socket_state, {"state": {}}, '"state" is {}, not text'),
        (check_socket_state, {"rates": {"sync": "fast"}}, '"rates" is {"sync": "fast"}, not'),
    ]
    for check, state, why in cases:
        with pytest.raises(Refused) as refused:
            check(payload(state))
        assert str(refused.value).startswith(why)
    with pytest.raises(Refused, match='^"\\\\u001b\\[2J" is not online or offline$'):
        check_availability(b"\x1b[2J")
    assert check_station_state(payload({"serial_range": [5, 5]})) == {"serial_range": [5, 5]}


def test_what_a_station_sent_is_shown_on_one_line():
    assert one_line("bench-1  ok  5c:cf:7f:01:02:03") == "bench-1  ok  5c:cf:7f:01:02:03"
    assert one_line("bench\n-1\x1b[2J") == "bench\\n-1\\x1b[2J"
