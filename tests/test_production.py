"""Production pieces on their own: boot check and burn-in against emulated firmware,
RF init layout, backups, the morning report."""

import hashlib
import json

import pytest
from gpiozero.pins.mock import MockFactory

from flashjig.cli.report import render, run_report
from flashjig.config import BootCheck, BurnIn
from flashjig.emulator import EmulatedModule, Faults, FlashChip
from flashjig.emulator.firmware import build_firmware
from flashjig.emulator.module import StrapPin
from flashjig.errors import BackupError
from flashjig.flashing.backups import list_backups, save
from flashjig.flashing.bootcheck import check_boot
from flashjig.flashing.sdklayout import RF_INIT_DATA, system_area
from flashjig.hardware.pins import StrapLine
from flashjig.hardware.strapping import ModuleLines
from flashjig.station.journal import JOURNAL_FILE, Journal


@pytest.fixture
def wired():
    """A module on mock strapping pins, the station's lines on the same pins."""
    factory = MockFactory()
    made = []

    def build(firmware: bytes | None, faults: Faults | None = None):
        gpio0 = factory.pin("GPIO4", pin_class=StrapPin)
        en = factory.pin("GPIO17", pin_class=StrapPin)
        chip = FlashChip(1 << 20)
        if firmware:
            chip.program(0, firmware)
        module = EmulatedModule("m", chip, gpio0=gpio0, en=en, faults=faults)
        lines = ModuleLines(
            StrapLine("GPIO4", pin_factory=factory), StrapLine("GPIO17", pin_factory=factory)
        )
        made.append((module, lines))
        return module, lines

    yield build
    for module, lines in made:
        lines.close()
        module.close()
        module.flash.close()
    factory.close()


READY = BootCheck(pattern=r"ready", timeout=2.0)


def test_boot_check_passes_on_the_firmware_banner(wired):
    module, lines = wired(build_firmware(0x20000))
    result = check_boot(module.device, 115200, reboot=lines.run_firmware, check=READY)
    assert result.ok, result.reason
    assert any("flashjig demo firmware" in line for line in result.lines)


def test_boot_check_fails_on_a_silent_module(wired):
    module, lines = wired(None)  # erased flash: the ROM prints at 74880 and stops
    result = check_boot(module.device, 115200, reboot=lines.run_firmware, check=READY)
    assert not result.ok
    assert "within 2 s (expected /ready/)" in result.reason


def test_boot_check_fails_on_the_wrong_banner(wired):
    module, lines = wired(build_firmware(0x20000, banner="\r\nPANIC\r\n"))
    result = check_boot(module.device, 115200, reboot=lines.run_firmware, check=READY)
    assert not result.ok and "no line matching it" in result.reason
    assert "PANIC" in result.log


def test_burn_in_catches_a_module_that_resets(wired):
    module, lines = wired(build_firmware(0x20000), Faults(reset_after=1.0))
    result = check_boot(
        module.device, 115200, reboot=lines.run_firmware, check=READY, burn_in=BurnIn(seconds=3.0)
    )
    assert not result.ok and result.reason == "burn-in: the firmware restarted"


def test_burn_in_passes_a_steady_module(wired):
    module, lines = wired(build_firmware(0x20000))
    result = check_boot(
        module.device, 115200, reboot=lines.run_firmware, check=READY, burn_in=BurnIn(seconds=1.5)
    )
    assert result.ok, result.reason


@pytest.mark.parametrize(
    ("size", "init", "params"),
    [
        (512 * 1024, 0x7C000, 0x7D000),
        (1 << 20, 0xFC000, 0xFD000),
        (2 << 20, 0x1FC000, 0x1FD000),
        (4 << 20, 0x3FC000, 0x3FD000),
    ],
)
def test_rf_init_layout(size, init, params):
    (init_at, init_data), (params_at, blank) = system_area(size)
    assert (init_at, params_at) == (init, params)
    assert init_data.startswith(RF_INIT_DATA) and len(init_data) == 0x1000
    assert blank == b"\xff" * 0x3000 and params_at + len(blank) == size


def test_backup_is_kept_only_when_the_md5_agrees(tmp_path):
    data = bytes(range(256)) * 16
    with pytest.raises(BackupError, match="differs"):
        save(
            tmp_path,
            mac="5c:cf:7f:00:00:01",
            data=data,
            module_md5="0" * 32,
            socket="socket1",
            station="s",
        )
    path = save(
        tmp_path,
        mac="5c:cf:7f:00:00:01",
        data=data,
        module_md5=hashlib.md5(data).hexdigest(),
        socket="socket1",
        station="s",
    )
    assert path.read_bytes() == data
    (meta,) = list_backups(tmp_path)
    assert meta["mac"] == "5c:cf:7f:00:00:01" and meta["path"] == str(path)
    assert not list(path.parent.glob(".*.tmp"))


def _result(socket, result, mac, reason=""):
    from flashjig.flashing.result import FlashResult, Outcome, Reason

    return FlashResult(
        socket=socket,
        result=Outcome(result),
        reason=Reason(reason) if reason else None,
        mac=mac,
        profile="p",
    )


def test_report_counts_reasons_sockets_and_units(tmp_path, capsys):
    with Journal(tmp_path / JOURNAL_FILE) as journal:
        for socket, result, mac, reason in [
            ("socket1", "ok", "aa", ""),
            ("socket2", "failed", "bb", "no sync"),
            ("socket2", "ok", "bb", ""),
            ("socket3", "failed", "cc", "verify failed"),
        ]:
            row = journal.start_attempt(socket=socket, profile="p", images=[], baud=1)
            journal.finish_attempt(row, _result(socket, result, mac, reason))
        rows = journal.attempts()
    text = render(rows)
    assert text.splitlines()[0] == "4 attempts: 2 ok, 2 failed; 3 modules, 2 good"
    assert "no sync" in text and "verify failed" in text
    assert "socket2        1 / 1" in text
    csv_path = tmp_path / "units.csv"
    assert run_report(tmp_path, since=None, csv_path=csv_path) == 0
    units = csv_path.read_text().splitlines()
    assert units[0].startswith("serial,mac,client_id") and len(units) == 4
    assert json.dumps("verify failed")[1:-1] in csv_path.read_text()
