"""In-process tests of the emulator's parts: SLIP framing, the NOR flash model, the ROM
erase-size bug, strapping and boot through gpiozero mock pins, the boot log's baud, and
injected faults."""

import time

import esptool.cmds
import pytest
import serial
from esptool.targets.esp8266 import ESP8266ROM
from esptool.util import FatalError
from gpiozero.pins.mock import MockFactory

from flashjig.emulator import slip
from flashjig.emulator.firmware import build_firmware
from flashjig.emulator.flashchip import BLOCK, SECTOR, FlashChip
from flashjig.emulator.loader import rom_erase_span
from flashjig.emulator.module import EmulatedModule, Faults, State, StrapPin

BANNER = b"flashjig demo firmware"


# -- SLIP -------------------------------------------------------------------------------


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


# -- FlashChip --------------------------------------------------------------------------


@pytest.fixture
def chip():
    flash = FlashChip(1 << 20)
    yield flash
    flash.close()


def test_flash_starts_erased(chip):
    assert chip.read(0, chip.size) == b"\xff" * chip.size


def test_program_only_clears_bits(chip):
    chip.program(0x100, b"\xf0\xaa")
    chip.program(0x100, b"\x0f\xff")
    assert chip.read(0x100, 2) == b"\x00\xaa"
    # Programming ones never sets a cleared bit back.
    chip.program(0x100, b"\xff\x55")
    assert chip.read(0x100, 2) == b"\x00\x00"


def test_erase_sector_sets_exactly_one_sector(chip):
    chip.program(0, b"\x00" * 0x4000)
    chip.erase_sector(0x1000 + 0x123)  # any address inside the sector
    assert chip.read(0, 0x1000) == b"\x00" * 0x1000
    assert chip.read(0x1000, 0x1000) == b"\xff" * 0x1000
    assert chip.read(0x2000, 0x2000) == b"\x00" * 0x2000


def test_bad_sector_keeps_its_content():
    flash = FlashChip(1 << 20, bad_sectors=frozenset({2}))
    try:
        flash.program(0x1000, b"\x00" * 0x3000)  # sectors 1, 2, 3
        assert flash.read(0x1000, 0x1000) == b"\x00" * 0x1000
        assert flash.read(0x2000, 0x1000) == b"\xff" * 0x1000
        assert flash.read(0x3000, 0x1000) == b"\x00" * 0x1000
    finally:
        flash.close()


def test_counterfeit_wraps_addresses():
    flash = FlashChip(1 << 20, claimed_size=4 << 20)
    try:
        assert flash.jedec_id == 0x1640EF  # claims 4 MB
        flash.program(0x100000, b"\x12\x34")
        assert flash.read(0, 2) == b"\x12\x34"
        flash.program(0x3FFFFE, b"\x56\x78")  # the last two bytes of the claimed 4 MB
        assert flash.read(0xFFFFE, 2) == b"\x56\x78"
        # A read across the physical end wraps to the start.
        assert flash.read(0xFFFFE, 4) == b"\x56\x78\x12\x34"
        flash.erase_sector(0x200000)
        assert flash.read(0, 2) == b"\xff\xff"
    finally:
        flash.close()


def test_genuine_chip_claims_its_size():
    flash = FlashChip(1 << 20)
    try:
        assert flash.jedec_id == 0x1440EF
    finally:
        flash.close()


def test_backing_file_persists(tmp_path):
    path = tmp_path / "module.flash"
    flash = FlashChip(1 << 20, backing_file=path)
    flash.program(0x1234, b"persist")
    flash.erase_sector(0x5000)
    flash.close()
    assert path.stat().st_size == 1 << 20
    reopened = FlashChip(1 << 20, backing_file=path)
    try:
        assert reopened.read(0x1234, 7) == b"persist"
        assert reopened.read(0, 0x1234) == b"\xff" * 0x1234
    finally:
        reopened.close()


# -- the ROM erase-size bug against esptool's compensation -----------------------------

ROM = object.__new__(ESP8266ROM)  # get_erase_size uses only FLASH_SECTOR_SIZE


def erase_cases():
    # Sector-aligned offsets on both sides of the 64 KiB boundary at 0x10000 (and 0x20000).
    offsets = range(0x8000, 0x21000, SECTOR)
    for offset in offsets:
        for sectors in range(1, 101):
            for size in (sectors * SECTOR, sectors * SECTOR - 0x123):
                yield offset, size


def test_rom_erase_span_with_esptool_compensation_covers_the_write():
    short = []
    for offset, size in erase_cases():
        request = ESP8266ROM.get_erase_size(ROM, offset, size)
        span = rom_erase_span(request, offset)
        assert span >= size, (hex(offset), size, request, span)
        assert span < size + BLOCK, (hex(offset), size, request, span)
        if request < size:
            short.append((offset, size))
    # The compensated request alone falls short for most writes: an emulator that erased
    # only what FLASH_BEGIN asked for would program over old data.
    assert short
    request = ESP8266ROM.get_erase_size(ROM, 0x3000, 200000)
    assert request < 200000
    assert rom_erase_span(request, 0x3000) == 0x34000 - 0x3000


def test_rom_erase_span_models_the_bug():
    # Asked for 4 sectors at the start of a block, the ROM erases 4 + 4.
    assert rom_erase_span(4 * SECTOR, 0x10000) == 8 * SECTOR
    # Asked for 20 sectors three sectors before a block boundary: 3 head sectors, then
    # all 20 again.
    assert rom_erase_span(20 * SECTOR, 0xD000) == 23 * SECTOR


# -- strapping and boot -----------------------------------------------------------------


@pytest.fixture
def factory():
    mock = MockFactory()
    yield mock
    mock.close()


@pytest.fixture
def strapped(factory):
    """A module on mock GPIO0/EN pins, both lines low (EN low holds it in reset)."""
    gpio0 = factory.pin("GPIO4", pin_class=StrapPin)
    en = factory.pin("GPIO17", pin_class=StrapPin)
    gpio0.output_with_state(False)
    en.output_with_state(False)
    flash = FlashChip(1 << 20)
    module = EmulatedModule("strapped", flash, gpio0=gpio0, en=en)
    yield module, flash, gpio0, en
    module.close()
    flash.close()


def release(pin):
    pin.input_with_pull("up")


def pull_low(pin):
    pin.output_with_state(False)


def printed(module) -> bytes:
    return b"".join(module.output)


def flash_boot(module, gpio0, en):
    """GPIO0 released (high), then a pulse on EN: the module boots from flash."""
    release(gpio0)
    pull_low(en)
    release(en)


def test_en_low_holds_reset(strapped):
    module, _flash, gpio0, en = strapped
    assert module.state is State.RESET
    release(gpio0)
    assert module.state is State.RESET  # GPIO0 alone does nothing while EN is low
    assert module.output == []
    release(en)
    pull_low(en)
    assert module.state is State.RESET


def test_gpio0_low_as_en_rises_enters_download(strapped):
    module, _flash, _gpio0, en = strapped
    release(en)
    assert module.state is State.DOWNLOAD
    assert b"boot mode:(1,6)" in printed(module)
    assert b"waiting for host" in printed(module)


def test_erased_flash_hangs(strapped):
    module, _flash, gpio0, en = strapped
    flash_boot(module, gpio0, en)
    assert module.state is State.HUNG
    assert b"boot mode:(3,6)" in printed(module)
    assert b"ets_main.c" in printed(module)


def test_firmware_in_flash_runs(strapped):
    module, flash, gpio0, en = strapped
    flash.erase_chip()
    flash.program(0, build_firmware())
    flash_boot(module, gpio0, en)
    assert module.state is State.APP
    assert BANNER in printed(module)
    assert b"csum err" not in printed(module)


def test_corrupt_segment_fails_checksum(strapped):
    module, flash, gpio0, en = strapped
    image = bytearray(build_firmware())
    image[0x20] ^= 0x01  # inside the first (IRAM) segment, which starts at 0x10
    flash.erase_chip()
    flash.program(0, bytes(image))
    flash_boot(module, gpio0, en)
    assert module.state is State.HUNG
    assert b"csum err" in printed(module)
    assert BANNER not in printed(module)


# -- what the host hears at 74880 and at 115200 ----------------------------------------


def read_for(port: serial.Serial, seconds: float, until: bytes | None = None) -> bytes:
    deadline = time.monotonic() + seconds
    data = b""
    while time.monotonic() < deadline:
        data += port.read(port.in_waiting or 1)
        if until is not None and until in data:
            break
    return data


@pytest.mark.parametrize("baud", [74880, 115200])
def test_boot_log_readable_only_at_74880(strapped, baud):
    module, _flash, gpio0, en = strapped
    with serial.Serial(module.device, baud, timeout=0.05) as port:
        port.reset_input_buffer()
        flash_boot(module, gpio0, en)
        heard = read_for(port, 1.0 if baud == 74880 else 0.3, until=b"ets_main.c")
    assert module.state is State.HUNG
    assert heard, "the module printed nothing"
    if baud == 74880:
        assert b"boot mode:(3,6)" in heard
    else:
        assert b"boot mode" not in heard
        assert b"ets" not in heard


# -- faults -----------------------------------------------------------------------------


@pytest.fixture
def standalone():
    modules = []

    def make(faults=None):
        flash = FlashChip(1 << 20)
        module = EmulatedModule("standalone", flash, faults=faults)
        modules.append((module, flash))
        return module

    yield make
    for module, flash in modules:
        module.close()
        flash.close()


def test_standalone_module_answers_esptool(standalone):
    module = standalone()
    assert module.state is State.DOWNLOAD
    esp = esptool.cmds.detect_chip(
        module.device, 115200, connect_mode="no-reset", connect_attempts=1
    )
    try:
        assert isinstance(esp, ESP8266ROM)
        assert bytes(esp.read_mac()) == module.mac
    finally:
        esp._port.close()


def test_silent_module_is_not_detected(standalone):
    module = standalone(Faults(silent=True))
    with pytest.raises(FatalError):
        esptool.cmds.detect_chip(module.device, 115200, connect_mode="no-reset", connect_attempts=1)


# -- the stub's baud rate ---------------------------------------------------------------

CHIP_MAGIC_ADDR = 0x40001000


@pytest.fixture
def stub(standalone):
    """esptool's stub running on a standalone module, host at 115200."""
    module = standalone()
    esp = esptool.cmds.detect_chip(
        module.device, 115200, connect_mode="no-reset", connect_attempts=1
    )
    try:
        stub = esptool.cmds.run_stub(esp)
        assert stub.IS_STUB
        yield stub
    finally:
        esp._port.close()


def test_stub_changes_baud_on_command(stub):
    stub.change_baud(921600)
    assert stub.read_reg(CHIP_MAGIC_ADDR, timeout=1) == ESP8266ROM.MAGIC_VALUE
    # The module now sends at 921600: a host still at 115200 hears only garbage.
    stub._set_port_baudrate(115200)
    with pytest.raises(FatalError):
        stub.read_reg(CHIP_MAGIC_ADDR, timeout=0.5)


def test_stub_uart_does_not_follow_host_baud(stub):
    assert stub.read_reg(CHIP_MAGIC_ADDR, timeout=1) == ESP8266ROM.MAGIC_VALUE
    stub._set_port_baudrate(921600)  # the host alone; the module was never told
    with pytest.raises(FatalError):
        stub.read_reg(CHIP_MAGIC_ADDR, timeout=0.5)
