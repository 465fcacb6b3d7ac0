"""SLIP framing as the ESP8266 ROM and esptool use it (0xC0 delimits, 0xDB escapes)."""

from collections.abc import Iterator

END = 0xC0
ESC = 0xDB
ESC_END = 0xDC
ESC_ESC = 0xDD


def encode(payload: bytes) -> bytes:
    """Frame one packet."""
    return b"\xc0" + payload.replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc") + b"\xc0"


class Decoder:
    """Incremental decoder: feed bytes as they arrive, get whole packets out.

    Bytes outside a frame are noise (a boot banner at another baud, line glitches) and
    are dropped, as the ROM does. A bad escape abandons the frame.
    """

    def __init__(self) -> None:
        self._packet: bytearray | None = None
        self._escape = False

    def reset(self) -> None:
        self._packet = None
        self._escape = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        for b in data:
            if self._packet is None:
                if b == END:
                    self._packet = bytearray()
                continue
            if self._escape:
                self._escape = False
                if b == ESC_END:
                    self._packet.append(END)
                elif b == ESC_ESC:
                    self._packet.append(ESC)
                else:
                    self._packet = None
                continue
            if b == ESC:
                self._escape = True
            elif b == END:
                if self._packet:
                    yield bytes(self._packet)
                    self._packet = None
                # An empty frame is two delimiters in a row: the second opens the next.
                else:
                    self._packet = bytearray()
            else:
                self._packet.append(b)
