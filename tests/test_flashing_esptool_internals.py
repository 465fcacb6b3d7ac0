"""esptool's private names, used in one place: the hex dumps nobody sees cost nothing, the
esptool CLI still writes and verifies, and the dumps come back when esptool traces."""

import logging

import esptool
import esptool.loader
import pytest

from flashjig.emulator import EmulatedModule, FlashChip
from flashjig.flashing import esplog, esptool_internals


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
