"""What makes the station fast: images already on a module are not written again, the
compressed image is made once per station, and esptool's unseen hex dumps cost nothing.
No timings here; bench/ measures them."""

import logging
import struct
import zlib

import esptool
import esptool.loader
import pytest
from helpers import seated

from flashjig.emulator import EmulatedModule, FlashChip, loader
from flashjig.emulator.firmware import build_firmware
from flashjig.flashing import esplog, esptool_internals
from flashjig.flashing.images import load_images
from flashjig.flashing.pipeline import FlashJob, flash
from flashjig.flashing.result import Stage
from flashjig.simulation.hardware import ModuleSpec, SimulatedHardware


def flash_socket(config, hardware, socket="socket1"):
    events = []
    images = load_images(config.profile)
    with seated(config, hardware, socket) as lines:
        job = FlashJob(
            socket=socket,
            port=hardware.port(socket),
            lines=lines,
            profile=config.profile,
            images=images,
            on_progress=events.append,
        )
        return flash(job), events, images


class ProgramCounter:
    """Counts the bytes the module's flash chip is asked to program."""

    def __init__(self, chip: FlashChip) -> None:
        self.bytes = 0
        self._program = chip.program
        chip.program = self

    def __call__(self, addr: int, data: bytes) -> None:
        self.bytes += len(data)
        self._program(addr, data)


def test_second_flash_of_the_same_image_writes_nothing(station_config):
    with SimulatedHardware(station_config) as hw:
        module = hw.modules["socket1"]
        first, _, _ = flash_socket(station_config, hw)
        assert first.ok and first.bytes == 0x100000
        assert first.images[0]["skipped"] is False
        written = ProgramCounter(module.flash)
        again, events, images = flash_socket(station_config, hw)
        assert again.ok, again
        assert again.bytes == 0 and again.images[0]["skipped"] is True
        assert written.bytes == 0
        expected = images[0].for_module("dout", "40m", "1MB")
        assert module.flash.read(0, len(expected)) == expected
        assert events[-1].stage is Stage.BOOTING and events[-1].percent == 100.0
        assert b"flashjig demo firmware" in b"".join(module.output)


def test_a_reflash_asks_each_digest_once(station_config, monkeypatch):
    """What esptool's --skip-flashed asks (the image's MD5), plus the capacity check's one
    comparison for a 1 MB chip (sector 0 against the sector at 512 KB): the first-sector
    probe reuses the capacity check's answer instead of hashing sector 0 again."""
    asked = []
    md5 = loader.Loader._md5

    def counting(self, op, data, checksum):
        asked.append(struct.unpack_from("<II", data))
        md5(self, op, data, checksum)

    with SimulatedHardware(station_config) as hw:
        assert flash_socket(station_config, hw)[0].ok
        monkeypatch.setitem(loader._STUB_COMMANDS, loader.Op.SPI_FLASH_MD5, counting)
        result, _, _ = flash_socket(station_config, hw)
    assert result.ok and result.bytes == 0
    assert asked == [(0, 0x1000), (0x80000, 0x1000), (0, 0x100000)]


def test_a_different_image_is_written(make_config, station_config, tmp_path):
    other = tmp_path / "other.bin"
    other.write_bytes(build_firmware(0x100000, banner="\r\nother firmware\r\n", seed=7))
    other_config = make_config([(0, other)])
    with SimulatedHardware(station_config) as hw:
        module = hw.modules["socket1"]
        assert flash_socket(station_config, hw)[0].ok
        result, _, images = flash_socket(other_config, hw)
        assert result.ok and result.bytes == 0x100000
        assert result.images[0]["skipped"] is False
        expected = images[0].for_module("dout", "40m", "1MB")
        assert module.flash.read(0, len(expected)) == expected


def test_an_image_that_matches_only_in_its_first_sector_is_rewritten(station_config):
    with SimulatedHardware(station_config) as hw:
        module = hw.modules["socket1"]
        assert flash_socket(station_config, hw)[0].ok
        module.flash.erase_sector(0x80000)  # the probe sector still matches, the rest not
        written = ProgramCounter(module.flash)
        result, _, images = flash_socket(station_config, hw)
        assert result.ok and result.bytes == 0x100000 and written.bytes == 0x100000
        expected = images[0].for_module("dout", "40m", "1MB")
        assert module.flash.read(0, len(expected)) == expected


def test_compression_is_done_once_per_station_not_per_module(station_config, monkeypatch):
    # Two modules whose detected sizes give two different image headers.
    modules = {"socket1": ModuleSpec("1MB"), "socket2": ModuleSpec("2MB")}
    compressions = []
    real = zlib.compressobj

    def counting(*args, **kwargs):
        compressions.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(zlib, "compressobj", counting)
    with SimulatedHardware(station_config, modules=modules) as hw:
        (image,) = load_images(station_config.profile)
        for socket in ("socket1", "socket2"):
            with seated(station_config, hw, socket) as lines:
                job = FlashJob(socket, hw.port(socket), lines, station_config.profile, (image,))
                assert flash(job).ok
        headers = {hw.modules[s].flash.read(3, 1)[0] >> 4 for s in ("socket1", "socket2")}
        assert headers == {2, 3}  # 1 MB and 2 MB headers
    # The body once, and each header's first sector once.
    assert len(compressions) == 3


def test_split_stream_inflates_to_the_image(firmware_1m, make_config):
    config = make_config([(0, firmware_1m)], flash_size="4MB", flash_mode="dio")
    (image,) = load_images(config.profile)
    data = image.for_module("dio", "40m", "4MB")
    stream = image.compressed(data)
    assert zlib.decompress(stream) == data  # checks the adler32 trailer too
    inflater = zlib.decompressobj()  # block by block, as the stub receives it
    out = b"".join(
        inflater.decompress(stream[i : i + 0x4000]) for i in range(0, len(stream), 0x4000)
    )
    assert out == data and inflater.eof and not inflater.unused_data
    assert len(stream) < len(zlib.compress(data, 9)) * 1.001


@pytest.fixture
def standalone_module():
    module = EmulatedModule("speed-test", FlashChip(1 << 20))
    try:
        yield module
    finally:
        module.close()
        module.flash.close()


def test_esptool_cli_still_writes_and_verifies_with_quiet_hex(
    standalone_module, firmware_1m, monkeypatch
):
    monkeypatch.setattr(esptool_internals, "_tracing", False)
    esplog.install()
    assert esptool.loader.HexFormatter is esptool_internals.QuietHexFormatter
    esptool.main(
        ["--chip", "esp8266", "--port", standalone_module.device]
        + ["--before", "no-reset", "--after", "no-reset", "--baud", "460800"]
        + ["write-flash", "0x0", str(firmware_1m)]
    )
    data = firmware_1m.read_bytes()
    assert standalone_module.flash.read(0, len(data)) == data
    assert esptool_internals._tracing is False


def test_hex_dumps_come_back_when_esptool_traces(standalone_module, monkeypatch, caplog):
    monkeypatch.setattr(esptool_internals, "_tracing", False)
    esplog.install()
    assert str(esptool.loader.HexFormatter(b"\x07\x07\x12\x20")) == ""
    caplog.set_level(logging.DEBUG, logger="flashjig.esptool")
    esptool.main(
        ["--chip", "esp8266", "--port", standalone_module.device, "--trace"]
        + ["--before", "no-reset", "--after", "no-reset", "read-mac"]
    )
    assert esptool_internals._tracing is True
    assert str(esptool.loader.HexFormatter(b"\x07\x07\x12\x20")) == "07071220"
    assert "07071220" in caplog.text  # the SYNC command, dumped
