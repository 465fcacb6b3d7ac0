"""Per-unit NVS data on ESP32-family targets: the blob is byte for byte what Espressif's
generator CLI writes for the same CSV, the NVS partition is found in the build's table,
and a C3 flashed with an identity profile holds its unit's NVS partition there (checked
against the CLI's output for the journal's unit), the tray's ESP8266 its JSON record."""

import re
import subprocess
import sys

import pytest
from helpers import flash_profile
from test_flashing_chips import c3_build, mixed_config  # noqa: F401 - fixtures

from flashjig.emulator.firmware import NVS_OFFSET, NVS_SIZE, partition_table
from flashjig.errors import IdentityError
from flashjig.flashing import nvs
from flashjig.flashing.identity import Unit, read_unit_record
from flashjig.flashing.parts import partitions
from flashjig.simulation.hardware import ModuleSpec, SimulatedHardware
from flashjig.station.journal import Journal


def cli_blob(tmp_path, namespace, rows, size):
    """What ``python -m esp_idf_nvs_partition_gen generate`` writes for these rows."""
    csv = tmp_path / "unit.csv"
    lines = ["key,type,encoding,value", f"{namespace},namespace,,"]
    lines += [f"{key},data,{encoding},{value}" for key, encoding, value in rows]
    csv.write_text("\n".join(lines) + "\n")
    out = tmp_path / "nvs.bin"
    command = [sys.executable, "-m", "esp_idf_nvs_partition_gen", "generate", str(csv), str(out)]
    subprocess.run([*command, hex(size)], check=True, capture_output=True)
    return out.read_bytes()


def test_the_blob_is_the_generators_own(tmp_path):
    rows = [("serial", "u32", "42"), ("client_id", "string", "node-042"), ("cal", "i16", "-7")]
    assert nvs.nvs_blob("flashjig", rows, 0x6000) == cli_blob(tmp_path, "flashjig", rows, 0x6000)


def test_the_nvs_partition_is_read_from_the_table():
    assert nvs.nvs_partition(partition_table()) == (NVS_OFFSET, NVS_SIZE)
    app_only = partition_table((("factory", 0, 0, 0x10000, 0x100000),))
    assert nvs.nvs_partition(app_only) is None
    assert [row.label for row in partitions(app_only)] == ["factory"]
    assert partitions(b"\xe9" * 32) == []


@pytest.mark.parametrize(
    ("namespace", "rows", "size", "why"),
    [
        ("flashjig", [], 0x2000, "cannot be generated"),
        ("flashjig", [("a_key_of_16_char", "u8", "1")], 0x6000, "longer than 15"),
        ("flashjig", [("big", "u8", "300")], 0x6000, "cannot make the unit's NVS"),
    ],
)
def test_what_cannot_be_generated_is_said(namespace, rows, size, why):
    with pytest.raises(IdentityError, match=why):
        nvs.nvs_blob(namespace, rows, size)


@pytest.mark.slow  # 2 s or more
def test_each_c3_gets_its_unit_in_nvs_and_the_esp8266_its_record(
    tmp_path,
    firmware_1m,
    c3_build,  # noqa: F811 - the fixture
):
    extra = tmp_path / "fields.csv"
    extra.write_text("key,type,encoding,value\nhostname,data,string,lamp-{serial:04d}\n")
    identity = {"mode": "record", "offset": 0x100000, "nvs_fields": str(extra)}
    config = mixed_config(
        tmp_path, firmware_1m, c3_build, ["esp8266", "esp32c3", "esp32c3"], identity=identity
    )
    tray = {"socket1": ModuleSpec(flash_size="4MB"), "socket2": ModuleSpec(flash_size="4MB")}
    tray["socket3"] = ModuleSpec(flash_size="4MB")
    journal = Journal(tmp_path / "journal.sqlite3", station=config.station.id)

    def unit_for(mac):
        row = journal.allocate_unit(
            mac, profile="demo", serial_range=(1, 99), client_id=lambda n: f"node-{n:03d}"
        )
        return Unit(row.serial, row.client_id, mac)

    with SimulatedHardware(config, modules=tray) as hw:
        results = {}
        for name in tray:
            results[name] = flash_profile(
                config, hw, name, unit_for=unit_for, station=config.station.id
            )
            assert results[name].ok, results[name].detail
        flashes = {name: module.flash for name, module in hw.modules.items()}
        record = read_unit_record(flashes["socket1"].read(0x100000, 0x1000))
        assert record["serial"] == results["socket1"].serial
        serials = set()
        for name in ("socket2", "socket3"):
            result = results[name]
            blob = flashes[name].read(NVS_OFFSET, NVS_SIZE)
            stamp = re.search(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", blob).group().decode()
            rows = [
                ("serial", "u32", str(result.serial)),
                ("client_id", "string", result.client_id),
                ("mac", "string", result.mac),
                ("time", "string", stamp),
                ("profile", "string", config.profile.name),
                ("station", "string", config.station.id),
                ("hostname", "string", f"lamp-{result.serial:04d}"),
            ]
            assert blob == cli_blob(tmp_path, "flashjig", rows, NVS_SIZE)
            assert {"offset": NVS_OFFSET, "file": "unit-nvs"}.items() <= result.images[-1].items()
            serials.add(result.serial)
        assert len(serials | {results["socket1"].serial}) == 3
    journal.close()
