"""The whole station over a mixed tray, as #17 is done when: an ESP-01S on UART straps, an
ESP32-C3 on UART straps, an ESP32-C3 on native USB, each seated, the button pressed, each
flashed with its chip's images and its unit's data (the ESP8266's record, the C3s' NVS),
verified and booted; an ESP32 the profile has no images for fails its socket only, as the
wrong chip. Also the capacity check and a backup on a C3."""

from pathlib import Path

import pytest
from helpers import flash_profile, wait_for
from test_flashing_chips import c3_build, mixed_config  # noqa: F401 - fixtures

from flashjig.emulator.firmware import NVS_OFFSET, NVS_SIZE
from flashjig.flashing.identity import read_unit_record
from flashjig.flashing.parts import partitions
from flashjig.flashing.result import Reason
from flashjig.mqtt.result import result_event
from flashjig.simulation.hardware import ModuleSpec, SimulatedHardware
from flashjig.simulation.station import simulated_station
from flashjig.station.report import render
from flashjig.station.status import SocketState

TRAY = {
    "socket1": ModuleSpec(flash_size="4MB"),  # an ESP-01S
    "socket2": ModuleSpec(),  # an ESP32-C3 on the socket's straps (its GPIO9 on the boot line)
    "socket3": ModuleSpec(boot_held=True),  # a blank ESP32-C3 on its own USB port
    "socket4": ModuleSpec(chip="esp32"),  # an ESP32 in an "auto" socket: no images for it
}


@pytest.mark.slow  # 2 s or more
def test_a_mixed_tray_through_the_station(tmp_path, firmware_1m, c3_build):  # noqa: F811
    identity = {"mode": "record", "offset": 0x100000, "template": "lamp-{serial:04d}"}
    config = mixed_config(
        tmp_path,
        firmware_1m,
        c3_build,
        ["esp8266", "esp32c3", "esp32c3", "auto"],
        native=("socket3",),
        identity=identity,
    )
    state = tmp_path / "state"
    with simulated_station(config, state) as (station, hardware, journal):
        for name, spec in TRAY.items():
            hardware.insert(name, spec)
        seated = lambda: all(  # noqa: E731
            station.sockets[n].status.state is SocketState.INSERTED for n in TRAY
        )
        wait_for(seated, timeout=10, what="the tray seated")
        hardware.press()
        done = (SocketState.OK, SocketState.FAILED)
        wait_for(
            lambda: all(station.sockets[n].status.state in done for n in TRAY),
            timeout=90,
            what="the tray flashed",
        )
        rows = {row.socket: row for row in journal.attempts()}
        report = render(journal)
        states = {name: station.sockets[name].status.state for name in TRAY}
        flashes = {name: hardware.modules[name].flash.read(0, 4 << 20) for name in TRAY}
        erases = hardware.modules["socket4"].flash.erases.total()
        running = {name: hardware.modules[name].state.value for name in TRAY}
    assert states == {
        "socket1": SocketState.OK,
        "socket2": SocketState.OK,
        "socket3": SocketState.OK,
        "socket4": SocketState.FAILED,
    }, {name: (row.reason, row.detail) for name, row in rows.items()}
    assert rows["socket4"].reason is Reason.WRONG_CHIP
    assert (
        "found ESP32: profile 'demo' has images for esp8266, esp32c3 only" in rows["socket4"].detail
    )
    assert erases == 0 and rows["socket4"].mac  # identified, then left alone
    assert running == {"socket1": "app", "socket2": "app", "socket3": "app", "socket4": "download"}
    record = read_unit_record(flashes["socket1"][0x100000:0x101000])
    assert (record["serial"], record["client_id"]) == (
        rows["socket1"].serial,
        rows["socket1"].client_id,
    )
    serials = {rows["socket1"].serial}
    for name in ("socket2", "socket3"):
        row = rows[name]
        assert row.chip_revision == "v0.4" and row.boot_log.endswith("ready")
        assert row.images[-1]["file"] == "unit-nvs" and row.images[-1]["offset"] == NVS_OFFSET
        blob = flashes[name][NVS_OFFSET : NVS_OFFSET + NVS_SIZE]
        assert blob[: len(b"\xfe")] == b"\xfe"  # an active NVS page, as the generator writes
        assert row.client_id.encode() in blob and row.mac.encode() in blob
        for image in c3_build:
            data = Path(image["file"]).read_bytes()
            assert flashes[name][image["offset"] : image["offset"] + len(data)] == data
        serials.add(row.serial)
    assert len(serials) == 3
    # The morning report lists every unit, whichever chip; the result event names the chip.
    for name in ("socket1", "socket2", "socket3"):
        assert rows[name].client_id in report
    event = result_event(rows["socket3"])
    assert (event["chip"], event["chip_revision"]) == ("ESP32-C3 (QFN32) (revision v0.4)", "v0.4")
    assert result_event(rows["socket1"])["chip_revision"] is None


@pytest.mark.slow  # 2 s or more
def test_a_counterfeit_c3_is_caught_and_a_backup_is_its_flash(tmp_path, firmware_1m, c3_build):  # noqa: F811
    config = mixed_config(
        tmp_path,
        firmware_1m,
        c3_build,
        ["esp32c3", "esp32c3"],
        min_flash_size="4MB",
        backup="before_write",
    )
    tray = {"socket1": ModuleSpec(flash_size="1MB", claimed_size="4MB"), "socket2": ModuleSpec()}
    with SimulatedHardware(config, modules=tray) as hw:
        before = hw.modules["socket2"].flash.read(0, 4 << 20)
        fake = flash_profile(config, hw, "socket1", state_dir=tmp_path)
        genuine = flash_profile(config, hw, "socket2", state_dir=tmp_path)
    assert fake.reason is Reason.FLASH_TOO_SMALL
    assert (fake.claimed_flash_size, fake.flash_size) == ("4MB", "1MB")
    assert genuine.ok, genuine.detail
    assert Path(genuine.backup).read_bytes() == before
    assert partitions(Path(c3_build[1]["file"]).read_bytes())
