"""The ROM bootloader and the esptool flasher stub, command by command, for each chip.

Facts (opcodes, payload layouts, status bytes, the ESP8266 ROM's erase-size bug, what the
ESP32-family ROMs serve besides, the stub's OHAI greeting and read-flash acknowledgement
flow) are those of esptool 5.6's ``loader.py`` and ``targets/``; see
../shared/esp8266-notes.md and ../shared/esp32-notes.md. What differs by chip is data in
``chips``.
"""

import base64
import enum
import hashlib
import json
import struct
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import esptool.loader

from flashjig.emulator.chips import Chip
from flashjig.emulator.faults import Faults
from flashjig.emulator.flashchip import BLOCK, SECTOR, FlashChip
from flashjig.emulator.registers import Registers
from flashjig.emulator.uart import Uart

SYNC_PAYLOAD = b"\x07\x07\x12\x20" + 32 * b"\x55"
ROM_SYNC_VALUE = 0x20120707

# ROM status (1, code); stub status (code, 0). esptool reads them as one 16-bit word.
ROM_INVALID_MESSAGE = (1, 0x05)
ROM_BAD_CHECKSUM = (1, 0x07)
STUB_BAD_DATA_LEN = (0xC0, 0)
STUB_BAD_CHECKSUM = (0xC1, 0)
STUB_INVALID_COMMAND = (0xC3, 0)
STUB_NOT_IN_FLASH_MODE = (0xC6, 0)
STUB_INFLATE_ERROR = (0xC7, 0)
STUB_TOO_MUCH_DATA = (0xC9, 0)
OK = (0, 0)


class Op(enum.IntEnum):
    FLASH_BEGIN = 0x02
    FLASH_DATA = 0x03
    FLASH_END = 0x04
    MEM_BEGIN = 0x05
    MEM_END = 0x06
    MEM_DATA = 0x07
    SYNC = 0x08
    WRITE_REG = 0x09
    READ_REG = 0x0A
    SPI_SET_PARAMS = 0x0B
    SPI_ATTACH = 0x0D
    READ_FLASH_SLOW = 0x0E
    CHANGE_BAUDRATE = 0x0F
    FLASH_DEFL_BEGIN = 0x10
    FLASH_DEFL_DATA = 0x11
    FLASH_DEFL_END = 0x12
    SPI_FLASH_MD5 = 0x13
    GET_SECURITY_INFO = 0x14
    ERASE_FLASH = 0xD0
    ERASE_REGION = 0xD1
    READ_FLASH = 0xD2
    RUN_USER_CODE = 0xD3


class Next(enum.Enum):
    """What the chip does after answering a command."""

    STAY = enum.auto()
    RUN_APP = enum.auto()  # jump to the firmware in flash
    REBOOT_TO_ROM = enum.auto()  # soft reset back into the ROM loader
    HANG = enum.auto()  # jumped into code we cannot run


class Link(Protocol):
    """The serial side as the loader sees it (implemented by EmulatedModule)."""

    line_rate: bool
    arrival: float  # when the current command's last byte arrived (monotonic)
    uart: Uart
    faults: Faults

    def send(self, payload: bytes) -> None: ...
    def receive(self, timeout: float) -> bytes | None: ...
    def sleep_until(self, when: float) -> None: ...


STUB_DIR = Path(esptool.loader.__file__).parent / "targets" / "stub_flasher"
LEGACY_STUB = 1  # esptool's "1/": the legacy flasher stub; "2/" is esp-flasher-stub


@dataclass(frozen=True)
class Stub:
    """One of esptool's flasher stubs: its version (its directory) and its segments."""

    version: int
    text: bytes
    data: bytes


_stubs: dict[str, dict[int, Stub]] = {}


def stubs_for(chip: Chip) -> dict[int, Stub]:
    """esptool's stubs for the chip (legacy and esp-flasher-stub) by entry point. The
    emulated chip runs a stub only if the bytes uploaded are esptool's own."""
    if chip.name not in _stubs:
        stubs = {}
        for path in STUB_DIR.glob(f"*/{chip.name}.json"):
            stub = json.loads(path.read_text())
            stubs[stub["entry"]] = Stub(
                int(path.parent.name),
                base64.b64decode(stub["text"]),
                base64.b64decode(stub["data"]),
            )
        _stubs[chip.name] = stubs
    return _stubs[chip.name]


@dataclass
class _WriteSession:
    """A stub write in progress: where it goes, how far it got, what is erased."""

    offset: int
    size: int
    written: int = 0
    erased_end: int = 0
    inflater: "zlib._Decompress | None" = None


def rom_erase_span(erase_size: int, offset: int) -> int:
    """Bytes the ESP8266 ROM really erases for FLASH_BEGIN(erase_size, offset).

    The ROM erases the sectors up to the next 64 KiB boundary and then the whole count
    again after them (esptool's ``ESP8266ROM.get_erase_size`` asks for less to make up
    for it). An emulator that erased exactly what was asked would leave a ``--no-stub``
    write silently corrupt.
    """
    sectors = -(-erase_size // SECTOR)
    head = min(16 - (offset // SECTOR) % 16, sectors)
    return (head + sectors) * SECTOR


class Loader:
    """Answers commands as the ROM does, and as the stub does once esptool starts it."""

    def __init__(self, chip: Chip, flash: FlashChip, registers: Registers, link: Link) -> None:
        self.chip = chip
        self.flash = flash
        self.registers = registers
        self.link = link
        self.stub: Stub | None = None  # the stub running, once esptool has started one
        self._syncs = 0
        self._mem = bytearray()
        self._mem_addr = 0
        self._mem_segments: dict[int, bytes] = {}
        self._write: _WriteSession | None = None
        self._rom_block = (0, 0)  # ROM FLASH_BEGIN: offset, block size
        self._flash_free_at = 0.0  # line-rate model: when queued flash work is done
        self._rom_commands = {
            op: handler
            for op, handler in _ROM_COMMANDS.items()
            if op in _COMMON or op.name in chip.rom_ops
        }
        self._stub_commands = dict(_STUB_COMMANDS)
        if chip.security_info:
            self._stub_commands[Op.GET_SECURITY_INFO] = Loader._security_info

    # -- framing -------------------------------------------------------------------------

    def _reply(self, op: int, status: tuple[int, int], value: int = 0, data: bytes = b"") -> None:
        # ESP32-family ROMs send four status bytes, the ESP8266 ROM and every stub two.
        width = 2 if self.stub else self.chip.rom_status_bytes
        body = data + bytes(status).ljust(width, b"\x00")
        self.link.send(struct.pack("<BBHI", 1, op, len(body), value) + body)

    def _error(self, op: int, rom: tuple[int, int], stub: tuple[int, int]) -> None:
        self._reply(op, stub if self.stub else rom)

    def handle(self, packet: bytes) -> Next:
        if len(packet) < 8 or packet[0] != 0:
            return Next.STAY
        _, op, length, checksum = struct.unpack_from("<BBHI", packet)
        data = packet[8 : 8 + length]
        handler = (self._stub_commands if self.stub else self._rom_commands).get(op)
        if handler is None:
            self._error(op, ROM_INVALID_MESSAGE, STUB_INVALID_COMMAND)
            return Next.STAY
        return handler(self, op, data, checksum) or Next.STAY

    def _checksum_ok(self, op: int, payload: bytes, checksum: int) -> bool:
        if esptool.loader.ESPLoader.checksum(payload) == checksum:
            return True
        self._error(op, ROM_BAD_CHECKSUM, STUB_BAD_CHECKSUM)
        return False

    # -- line-rate model -----------------------------------------------------------------

    def _queue_flash_work(self, seconds: float) -> None:
        """One block of buffering: the chip takes a new block once the last is written."""
        if not self.link.line_rate:
            return
        start = max(self.link.arrival, self._flash_free_at)
        self.link.sleep_until(start)
        self._flash_free_at = start + seconds

    def _busy(self, seconds: float) -> None:
        """Wait for queued flash work, then for this operation itself."""
        if not self.link.line_rate:
            return
        done = max(time.monotonic(), self._flash_free_at) + seconds
        self.link.sleep_until(done)
        self._flash_free_at = done

    # -- commands both the ROM and the stub know -----------------------------------------

    def _sync(self, op: int, data: bytes, checksum: int) -> None:
        if data != SYNC_PAYLOAD:
            self._error(op, ROM_INVALID_MESSAGE, STUB_INVALID_COMMAND)
            return
        value = 0 if self.stub else ROM_SYNC_VALUE
        if not self.stub:
            self._syncs += 1
            if self.link.faults.sync_every_other and self._syncs % 2:
                return  # this one missed: the next is answered
            self.link.uart.lock()  # the ROM measured the host's rate on the 0x55 run
        for _ in range(8):  # the ROM answers every SYNC eight times; esptool reads them all
            self._reply(op, OK, value)

    def _read_reg(self, op: int, data: bytes, checksum: int) -> None:
        (addr,) = struct.unpack_from("<I", data)
        self._reply(op, OK, self.registers.read(addr))

    def _write_reg(self, op: int, data: bytes, checksum: int) -> None:
        self.registers.write_records(data)
        self._reply(op, OK)

    def _mem_begin(self, op: int, data: bytes, checksum: int) -> None:
        size, _blocks, _blocksize, offset = struct.unpack_from("<IIII", data)
        self._mem = bytearray()
        self._mem_addr = offset
        self._reply(op, OK)

    def _mem_data(self, op: int, data: bytes, checksum: int) -> None:
        length, _seq = struct.unpack_from("<II", data)
        payload = data[16 : 16 + length]
        if self._checksum_ok(op, payload, checksum):
            self._mem += payload
            self._mem_segments[self._mem_addr] = bytes(self._mem)
            self._reply(op, OK)

    def _mem_end(self, op: int, data: bytes, checksum: int) -> Next:
        no_entry, entry = struct.unpack_from("<II", data)
        self._reply(op, OK)
        if no_entry:
            return Next.STAY
        uploaded = set(self._mem_segments.values())
        self._mem_segments = {}
        stub = stubs_for(self.chip).get(entry)
        if stub is None or not {stub.text, stub.data} <= uploaded:
            return Next.HANG
        self.stub = stub
        if self.link.faults.stub_uart_115200:
            self.link.uart.set_baud(115200)  # what the ROM was told before is lost
        self.link.send(b"OHAI")
        return Next.STAY

    def _flash_begin(self, op: int, data: bytes, checksum: int) -> None:
        size, _blocks, blocksize, offset = struct.unpack_from("<IIII", data)
        if self.stub:
            start = offset - offset % SECTOR
            self._write = _WriteSession(offset, size, erased_end=start)
        else:
            span = rom_erase_span(size, offset) if self.chip.rom_erase_bug else size
            self.flash.erase_range(offset - offset % SECTOR, span)
            self._busy(self.flash.erase_time(span // SECTOR))
            self._rom_block = (offset, blocksize)
        self._reply(op, OK)

    def _flash_data(self, op: int, data: bytes, checksum: int) -> None:
        length, seq = struct.unpack_from("<II", data)
        payload = data[16 : 16 + length]
        if len(payload) != length:
            self._error(op, ROM_INVALID_MESSAGE, STUB_BAD_DATA_LEN)
            return
        if not self._checksum_ok(op, payload, checksum):
            return
        if not self.stub:
            offset, blocksize = self._rom_block
            self.flash.program(offset + seq * blocksize, payload)
            self._busy(self.flash.program_time(len(payload)))
            self._reply(op, OK)
            return
        if self._write is None:
            self._reply(op, STUB_NOT_IN_FLASH_MODE)
            return
        # The stub writes only the announced size: esptool pads the last block with 0xFF.
        session = self._write
        self._stub_write(session, payload[: session.size - session.written])
        self._reply(op, OK)

    def _flash_end(self, op: int, data: bytes, checksum: int) -> Next:
        (stay,) = struct.unpack_from("<I", data) if len(data) >= 4 else (0,)
        self._write = None
        self._busy(0.0)
        self._reply(op, OK)
        if self.stub:
            return Next.STAY if stay else Next.REBOOT_TO_ROM
        return Next.RUN_APP if stay else Next.REBOOT_TO_ROM

    # -- stub-only commands --------------------------------------------------------------

    def _stub_write(self, session: _WriteSession, chunk: bytes) -> None:
        """Erase ahead as the stub does (64 KiB blocks where it can), then program."""
        pos = session.offset + session.written
        end = pos + len(chunk)
        session_end = session.offset + session.size
        seconds = 0.0
        while session.erased_end < end:
            step = SECTOR
            if session.erased_end % BLOCK == 0 and session_end - session.erased_end >= BLOCK:
                step = BLOCK
            self.flash.erase_range(session.erased_end, step)
            seconds += self.flash.erase_time(step // SECTOR)
            session.erased_end += step
        self.flash.program(pos, chunk)
        session.written += len(chunk)
        self._queue_flash_work(seconds + self.flash.program_time(len(chunk)))

    def _spi_set_params(self, op: int, data: bytes, checksum: int) -> None:
        self._reply(op, OK)

    def _spi_attach(self, op: int, data: bytes, checksum: int) -> None:
        self._reply(op, OK)

    def _change_baud(self, op: int, data: bytes, checksum: int) -> None:
        """The reply goes at the old rate, then the UART takes the new one, as each
        party computes it from the two words (the new rate, and the old or 0)."""
        asked, old = struct.unpack_from("<II", data)
        self._reply(op, OK)
        self.link.uart.set_baud(self._new_baud(max(1, asked), old))

    def _new_baud(self, asked: int, old: int) -> float:
        uart = self.link.uart
        if self.stub is None:  # an ESP32-family ROM: its divider from its crystal estimate
            clock = self.chip.rom_clock
            believed = clock.estimate(self.registers.read) if clock else uart.apb_hz
            return asked * uart.apb_hz / believed
        if self.stub.version == LEGACY_STUB:
            # stub_io.c: the divider scaled by the old rate esptool sends over the new one.
            return uart.apb_hz / max(1, uart.divider() * old // asked)
        if self.chip.stub_assumes_115200:
            return uart.apb_hz / max(1, uart.divider() * 115200 // asked)
        return asked

    def _defl_begin(self, op: int, data: bytes, checksum: int) -> None:
        size, _blocks, _blocksize, offset = struct.unpack_from("<IIII", data)
        start = offset - offset % SECTOR
        self._write = _WriteSession(offset, size, erased_end=start, inflater=zlib.decompressobj())
        if not self.stub:  # a ROM erases the whole (block-rounded) size up front
            self.flash.erase_range(start, offset + size - start)
            self._busy(self.flash.erase_time(-(-(offset + size - start) // SECTOR)))
            self._write.erased_end = offset + size
        self._reply(op, OK)

    def _defl_data(self, op: int, data: bytes, checksum: int) -> None:
        length, _seq = struct.unpack_from("<II", data)
        payload = data[16 : 16 + length]
        if len(payload) != length:
            self._reply(op, STUB_BAD_DATA_LEN)
            return
        if not self._checksum_ok(op, payload, checksum):
            return
        session = self._write
        if session is None or session.inflater is None:
            self._reply(op, STUB_NOT_IN_FLASH_MODE)
            return
        try:
            chunk = session.inflater.decompress(payload)
        except zlib.error:
            self._reply(op, STUB_INFLATE_ERROR)
            return
        if session.written + len(chunk) > session.size:
            self._reply(op, STUB_TOO_MUCH_DATA)
            return
        self._stub_write(session, chunk)
        self._reply(op, OK)

    def _md5(self, op: int, data: bytes, checksum: int) -> None:
        addr, size = struct.unpack_from("<II", data)
        self._busy(self.flash.md5_time(size))
        digest = hashlib.md5(self.flash.read(addr, size)).digest()
        # A ROM answers in 32 hex characters, a stub in 16 bytes.
        self._reply(op, OK, data=digest if self.stub else digest.hex().encode())

    def _read_flash_slow(self, op: int, data: bytes, checksum: int) -> None:
        """The ROM's read: 64 bytes a request, answered in the reply itself."""
        offset, length = struct.unpack_from("<II", data)
        self._reply(op, OK, data=self.flash.read(offset, min(length, 64)).ljust(64, b"\xff"))

    def _security_info(self, op: int, data: bytes, checksum: int) -> None:
        """Flags (no secure boot, no Secure Download Mode), crypt count 0, seven key
        purposes, then the chip id and ROM API version (esptool's ``<IBBBBBBBBII``)."""
        info = struct.pack("<IBBBBBBBBII", 0, 0, *(0,) * 7, self.chip.chip_id, 0)
        self._reply(op, OK, data=info)

    def _erase_flash(self, op: int, data: bytes, checksum: int) -> None:
        self.flash.erase_chip()
        self._busy(self.flash.chip_erase_time())
        self._reply(op, OK)

    def _erase_region(self, op: int, data: bytes, checksum: int) -> None:
        offset, size = struct.unpack_from("<II", data)
        if offset % SECTOR or size % SECTOR:
            self._reply(op, STUB_BAD_DATA_LEN)
            return
        self.flash.erase_range(offset, size)
        self._busy(self.flash.erase_time(size // SECTOR))
        self._reply(op, OK)

    def _read_flash(self, op: int, data: bytes, checksum: int) -> None:
        """Stream sectors, keeping at most ``in_flight`` unacknowledged, then the MD5."""
        offset, length, packet_size, in_flight = struct.unpack_from("<IIII", data)
        self._busy(0.0)
        self._reply(op, OK)
        content = self.flash.read(offset, length)
        sent = acked = 0
        while acked < length:
            if sent < length and (sent - acked) < in_flight * packet_size:
                packet = content[sent : sent + packet_size]
                self.link.send(packet)
                sent += len(packet)
                continue
            ack = self.link.receive(timeout=3.0)
            if ack is None:
                return  # the host gave up; the real stub would wait for ever
            if len(ack) == 4:
                acked = max(acked, struct.unpack("<I", ack)[0])
        self.link.send(hashlib.md5(content).digest())

    def _run_user_code(self, op: int, data: bytes, checksum: int) -> Next:
        return Next.RUN_APP


_COMMON = {
    Op.SYNC: Loader._sync,
    Op.READ_REG: Loader._read_reg,
    Op.WRITE_REG: Loader._write_reg,
    Op.MEM_BEGIN: Loader._mem_begin,
    Op.MEM_DATA: Loader._mem_data,
    Op.MEM_END: Loader._mem_end,
    Op.FLASH_BEGIN: Loader._flash_begin,
    Op.FLASH_DATA: Loader._flash_data,
    Op.FLASH_END: Loader._flash_end,
}
# Every ROM command a chip may serve; each chip's ROM serves ``_COMMON`` and its rom_ops.
_ROM_COMMANDS = {
    **_COMMON,
    Op.SPI_SET_PARAMS: Loader._spi_set_params,
    Op.SPI_ATTACH: Loader._spi_attach,
    Op.READ_FLASH_SLOW: Loader._read_flash_slow,
    Op.CHANGE_BAUDRATE: Loader._change_baud,
    Op.FLASH_DEFL_BEGIN: Loader._defl_begin,
    Op.FLASH_DEFL_DATA: Loader._defl_data,
    Op.FLASH_DEFL_END: Loader._flash_end,
    Op.SPI_FLASH_MD5: Loader._md5,
    Op.GET_SECURITY_INFO: Loader._security_info,
}
_STUB_COMMANDS = {
    **_COMMON,
    Op.SPI_SET_PARAMS: Loader._spi_set_params,
    Op.SPI_ATTACH: Loader._spi_attach,
    Op.CHANGE_BAUDRATE: Loader._change_baud,
    Op.FLASH_DEFL_BEGIN: Loader._defl_begin,
    Op.FLASH_DEFL_DATA: Loader._defl_data,
    Op.FLASH_DEFL_END: Loader._flash_end,
    Op.SPI_FLASH_MD5: Loader._md5,
    Op.ERASE_FLASH: Loader._erase_flash,
    Op.ERASE_REGION: Loader._erase_region,
    Op.READ_FLASH: Loader._read_flash,
    Op.RUN_USER_CODE: Loader._run_user_code,
}
