"""SLIP framing as the ESP8266 ROM and esptool use it."""

import pytest

from flashjig.emulator import slip


def feed_all(decoder: slip.Decoder, *chunks: bytes) -> list[bytes]:
    packets = []
    for chunk in chunks:
        packets.extend(decoder.feed(chunk))
    return packets


@pytest.mark.parametrize(
    "payload",
    [
        b"\x00\x08\x24\x00",
        b"\xc0",
        b"\xdb",
        b"\xdb\xdc\xc0\xdd\xdb\xc0",
        bytes(range(256)) * 3,
    ],
)
def test_slip_round_trip(payload):
    frame = slip.encode(payload)
    assert frame[0] == frame[-1] == 0xC0
    assert b"\xc0" not in frame[1:-1]
    assert feed_all(slip.Decoder(), frame) == [payload]


def test_slip_escapes_on_the_wire():
    assert slip.encode(b"a\xc0b\xdbc") == b"\xc0a\xdb\xdcb\xdb\xddc\xc0"


def test_slip_noise_before_a_frame_is_ignored():
    noise = b"\r\n ets Jan  8 2013,rst cause:2, boot mode:(1,6)\r\n\x01\x7f\xdb\xdc"
    payload = b"\x01\x08\x02\x00\xc0\xdb"
    assert feed_all(slip.Decoder(), noise + slip.encode(payload)) == [payload]


def test_slip_frame_split_across_feeds():
    payload = b"ab\xc0cd\xdbef" * 10
    frame = slip.encode(payload)
    # Split everywhere, including between an escape byte and its second byte.
    escape_at = frame.index(b"\xdb")
    assert feed_all(slip.Decoder(), frame[: escape_at + 1], frame[escape_at + 1 :]) == [payload]
    decoder = slip.Decoder()
    assert feed_all(decoder, *(frame[i : i + 1] for i in range(len(frame)))) == [payload]
    # Two frames back to back, split in the middle of the second.
    second = slip.encode(b"second")
    stream = frame + second
    cut = len(frame) + 3
    assert feed_all(slip.Decoder(), stream[:cut], stream[cut:]) == [payload, b"second"]
