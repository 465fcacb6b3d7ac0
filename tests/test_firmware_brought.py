"""Firmware as users bring it, not as this project builds it: real builds published by
others (tests/firmware/README.md says where each comes from and its licence), merged
factory images made by `esptool merge-bin`, ESP-IDF's flasher_args.json, and the chip
revision fields of ESP-IDF 4.x and 5.x images, each through the station and, where esptool
has a verdict of its own, through the unchanged esptool CLI against the emulated chip: the
station flashes what esptool flashes and refuses, before anything is erased, what it
refuses."""

import contextlib
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import SHIPPED
from helpers import flash_profile, output, read_flash, run_esptool, start_sim

from flashjig.config import load_config
from flashjig.emulator.firmware import (
    AT_LAYOUT_4MB_C1,
    IDF4_REVISIONS,
    build_at_firmware,
    build_esp32_firmware,
)
from flashjig.emulator.module import State
from flashjig.errors import ConfigError, ImageError
from flashjig.flashing.identity import Unit
from flashjig.flashing.images import load_images
from flashjig.flashing.parts import Kind
from flashjig.flashing.result import Reason
from flashjig.flashing.sdklayout import RF_INIT_DATA
from flashjig.simulation.hardware import ModuleSpec, SimulatedHardware

FIRMWARE = Path(__file__).parent / "firmware"
# MicroPython 1.16 for an ETBoard (ESP32), ESP-IDF 4.2: merged for 0x1000 (bootloader at 0
# of the file, partition table at 0x7000, app at 0xF000); max_rev_full 0.
MICROPYTHON_IDF4 = FIRMWARE / "esp32-micropython-1.16-idf4.2-etboard-0x1000.bin"
# esp-linker 1.4.2's ESP32 firmware (Arduino-ESP32 3.x, ESP-IDF 5.4.1): a factory image for
# 0x0 (0x1000 of 0xFF, then the bootloader); max_rev_full 65535.
FACTORY_IDF5 = FIRMWARE / "esp32-esp-linker-1.4.2-idf5.4.1-factory-0x0.bin"
# mxdbg 0.3.2 (ESP32-S3, ESP-IDF 5.3.5), the build's three files; max_rev_full 99.
MXDBG = FIRMWARE / "esp32s3-mxdbg"
MICROPYTHON_ESP8266 = FIRMWARE / "esp8266-micropython-1.22.1-FLASH_1M.bin"
CIRCUITPYTHON_ESP8266 = FIRMWARE / "esp8266-circuitpython-3.0.0-beta.0.bin"


def station(tmp_path: Path, images, chips=("esp8266",), **profile):
    """The shipped config with these images (a list for the first of ``chips``, a chip
    mapping or a flasher_args.json path), its first sockets holding ``chips``, the others
    whatever their ROM says."""
    data = yaml.safe_load(SHIPPED.read_text())
    settings = data["profiles"][data["active_profile"]]
    settings["images"] = images
    # The headers as built, byte for byte (esptool's default is keep too).
    settings.update(flash_mode="keep", flash_freq="keep", flash_size="keep")
    settings.update(profile)
    if isinstance(images, list) and chips[0] != "esp8266":
        settings["chip"] = chips[0]
    for i, socket in enumerate(data["sockets"]):
        socket["chip"] = chips[i] if i < len(chips) else "auto"
    path = tmp_path / "flashjig.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_config(path)


def image(offset: int, path: Path) -> dict:
    return {"offset": offset, "file": str(path)}


def write(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)
    return folder / name


def merge_bin(tmp_path: Path, chip: str, files: dict[int, bytes], *extra: str) -> Path:
    """A merged image made by esptool's own merge-bin."""
    args = []
    for offset, data in files.items():
        args += [hex(offset), str(write(tmp_path / f"{chip}-parts", f"{offset:x}.bin", data))]
    out = tmp_path / f"{chip}-merged.bin"
    subprocess.run(
        [sys.executable, "-m", "esptool", "--chip", chip, "merge-bin", "-o", str(out), *extra,
         *args],
        check=True, capture_output=True,
    )  # fmt: skip
    return out


def flash_one(config, chip: str, **job):
    """One attempt on socket1 holding ``chip`` (4 MB); the result, the module's flash after,
    how much of it was erased and the module."""
    module = ModuleSpec(chip=chip, flash_size="4MB")
    with SimulatedHardware(config, modules={"socket1": module}) as hw:
        result = flash_profile(config, hw, "socket1", **job)
        emulated = hw.modules["socket1"]
        return result, emulated.flash.read(0, 4 << 20), emulated.flash.erases.total(), emulated


# -- real builds, flashed as they are published ----------------------------------------------


# Each real build as its publisher says to flash it: (chip, [(offset, file)]).
REAL_BUILDS = {
    "micropython-idf4.2": ("esp32", [(0x1000, MICROPYTHON_IDF4)]),
    "factory-idf5.4.1": ("esp32", [(0x0, FACTORY_IDF5)]),
    "s3-idf5.3.5": (
        "esp32s3",
        [
            (0x0, MXDBG / "bootloader.bin"),
            (0x8000, MXDBG / "partition-table.bin"),
            (0x10000, MXDBG / "mxdbg.bin"),
        ],
    ),
    "micropython-8266": ("esp8266", [(0x0, MICROPYTHON_ESP8266)]),
    "circuitpython-8266": ("esp8266", [(0x0, CIRCUITPYTHON_ESP8266)]),
}


@pytest.mark.parametrize("build", REAL_BUILDS)
def test_a_real_build_is_flashed_as_published_and_read_back(tmp_path, build):
    """On the emulated ESP32 (v3.1), S3 (v0.2) and ESP8266: every file on the flash byte for
    byte, and the ROM takes the image it finds (magic, chip id, checksum)."""
    chip, images = REAL_BUILDS[build]
    config = station(tmp_path, [image(o, p) for o, p in images], chips=[chip])
    result, flash, _, module = flash_one(config, chip)
    assert result.ok, result.detail
    for offset, path in images:
        data = path.read_bytes()
        assert flash[offset : offset + len(data)] == data, path.name
    assert module.state is State.APP, module.state


@pytest.fixture(scope="module")
def esptool_modules():
    """An emulated ESP8266, ESP32 (v3.1), C3 (v0.4) and S3 (v0.2), each in download mode,
    for the unchanged esptool CLI."""
    with contextlib.ExitStack() as stack:
        devices = {}
        for chip in ("esp8266", "esp32", "esp32c3", "esp32s3"):
            sim = start_sim("--chip", chip, "--modules", "1", "--flash-size", "4MB")
            devices[chip] = next(stack.enter_context(contextlib.closing(sim)))["module1"]
        yield devices


@pytest.mark.slow
@pytest.mark.parametrize("build", REAL_BUILDS)
def test_esptool_flashes_the_same_real_builds_and_reads_them_back(esptool_modules, tmp_path, build):
    """The reference: esptool's write-flash takes every one (the IDF 4.x one is what the
    station refused before, reading max_rev_full 0 as "v0.0 at most"), and its read-flash
    gives the files back."""
    chip, images = REAL_BUILDS[build]
    device = esptool_modules[chip]
    args = [str(a) for offset, path in images for a in (hex(offset), path)]
    text = output(run_esptool(device, "write-flash", *args, chip=chip))
    assert "Hash of data verified." in text, text
    for offset, path in images:
        data = path.read_bytes()
        assert read_flash(device, tmp_path, offset, len(data), chip=chip) == data, path.name


# -- chip revisions, by esptool's rules ------------------------------------------------------

# (chip, (min_rev, min_rev_full, max_rev_full), does esptool take it); the emulated ESP32 is
# v3.1, the C3 v0.4.
REVISIONS = [
    ("esp32", IDF4_REVISIONS, True),  # IDF 4.x: no full fields, legacy min_rev 0
    ("esp32", (3, 0, 0), True),  # IDF 4.x for ESP32 rev 3: legacy byte against the major
    ("esp32", (4, 0, 0), False),
    ("esp32", (0, 0, 399), True),  # IDF 5.x's default: v0.0 to v3.99
    ("esp32", (0, 0, 299), False),  # up to v2.99
    ("esp32", (3, 302, 399), False),  # from v3.2
    ("esp32", (0, 300, 65535), True),  # from v3.0, no upper bound
    ("esp32", (3, 0, 65535), True),  # 65535 with min_rev_full unset: the legacy byte counts
    ("esp32", (4, 0, 65535), False),
    ("esp32c3", (3, 0, 0), True),  # the C3's legacy byte is its minor revision (v0.4)
    ("esp32c3", (5, 0, 0), False),
]


def revision_build(tmp_path, chip, revisions):
    files = build_esp32_firmware(chip, app_size=0x8000, revisions=revisions)
    return {offset: write(tmp_path / "build", f"{offset:x}.bin", d) for offset, d in files.items()}


@pytest.mark.parametrize(("chip", "revisions", "takes"), REVISIONS)
def test_chip_revisions_are_read_as_esptool_reads_them(tmp_path, chip, revisions, takes):
    files = revision_build(tmp_path, chip, revisions)
    config = station(tmp_path, [image(o, p) for o, p in files.items()], chips=[chip])
    result, _, erased, _ = flash_one(config, chip)
    if takes:
        assert result.ok, result.detail
    else:
        assert result.reason is Reason.WRONG_CHIP, result.detail
        assert "requires chip revision" in result.detail
        assert "the bootloader at" in result.detail
        assert erased == 0


@pytest.mark.slow
@pytest.mark.parametrize(("chip", "revisions", "takes"), REVISIONS)
def test_esptool_agrees_on_each_revision(esptool_modules, tmp_path, chip, revisions, takes):
    """The unchanged esptool CLI on the same emulated chip: the table above is its verdict."""
    files = revision_build(tmp_path, chip, revisions)
    bootloader = min(files)
    run = run_esptool(esptool_modules[chip], "write-flash", hex(bootloader), str(files[bootloader]),
                      chip=chip)  # fmt: skip
    assert (run.returncode == 0) == takes, output(run)
    if not takes:
        assert "requires chip revision" in output(run)


# -- merged images ---------------------------------------------------------------------------


@pytest.mark.parametrize("chip", ["esp32", "esp32c3"])
def test_a_factory_image_from_merge_bin_is_checked_part_by_part_and_flashed(tmp_path, chip):
    files = build_esp32_firmware(chip, app_size=0x8000, revisions=IDF4_REVISIONS)
    factory = merge_bin(tmp_path, chip, files, "--target-offset", "0x0")
    config = station(tmp_path, [image(0, factory)], chips=[chip])
    [loaded] = load_images(config.profile)
    assert [(p.kind.value, p.offset) for p in loaded.parts] == [
        ("bootloader", min(files)),
        ("partition table", 0x8000),
        ("app", 0x10000),
    ]
    result, flash, _, module = flash_one(config, chip)
    assert result.ok, result.detail
    assert flash[: factory.stat().st_size] == factory.read_bytes()
    assert module.state is State.APP


@pytest.mark.parametrize(("built", "profile_chip"), [("esp32", "esp32c3"), ("esp32c3", "esp32")])
def test_a_factory_image_for_another_chip_is_the_wrong_chip_before_anything(
    tmp_path, built, profile_chip
):
    files = build_esp32_firmware(built, app_size=0x8000)
    factory = merge_bin(tmp_path, built, files, "--target-offset", "0x0")
    config = station(tmp_path, [image(0, factory)], chips=[profile_chip])
    with pytest.raises(ImageError) as refused:
        load_images(config.profile)
    names = {"esp32": "ESP32", "esp32c3": "ESP32-C3"}
    assert f"wrong chip: it holds a bootloader for the {names[built]}" in str(refused.value)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize("path", [MICROPYTHON_IDF4, FACTORY_IDF5], ids=["for-0x1000", "for-0x0"])
def test_an_esp32_build_in_an_esp8266_profile_is_the_wrong_chip_in_one_line(tmp_path, path):
    """The commonest mix-up, through `flashjig check-config`: exit 2, one line, the chip."""
    config = station(tmp_path, [image(0, path)])  # esp8266, the default
    run = subprocess.run(
        [sys.executable, "-m", "flashjig", "check-config", str(tmp_path / "flashjig.yaml")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 2
    [line] = run.stdout.splitlines()  # check-config prints its problems, one a line
    assert "wrong chip: it holds a bootloader for the ESP32 at file offset" in line
    assert "not one for the ESP8266" in line
    with pytest.raises(ImageError):
        load_images(config.profile)


def test_a_merged_image_whose_bootloader_excludes_the_revision_is_refused_before_any_erase(
    tmp_path,
):
    files = build_esp32_firmware("esp32", app_size=0x8000, revisions=(0, 0, 299))
    factory = merge_bin(tmp_path, "esp32", files, "--target-offset", "0x0")
    config = station(tmp_path, [image(0, factory)], chips=["esp32"])
    result, _, erased, _ = flash_one(config, "esp32")
    assert result.reason is Reason.WRONG_CHIP
    assert "v2.99 or lower (this chip is revision v3.1)" in result.detail
    assert "the bootloader at 0x1000, file offset 0x1000" in result.detail
    assert erased == 0


@pytest.mark.parametrize("where", ["bootloader", "app"])
def test_a_damaged_part_inside_a_merged_image_is_refused_naming_it(tmp_path, where):
    """MicroPython's IDF 4.2 build with one bit flipped inside its bootloader or its app."""
    data = bytearray(MICROPYTHON_IDF4.read_bytes())
    data[0x200 if where == "bootloader" else 0xF000 + 0x2000] ^= 0x10
    bad = write(tmp_path, "bad.bin", bytes(data))
    config = station(tmp_path, [image(0x1000, bad)], chips=["esp32"])
    with pytest.raises(ImageError) as refused:
        load_images(config.profile)
    message = str(refused.value)
    if where == "app":
        assert "(the app at 0x10000, file offset 0xf000)" in message
    assert "segment checksum" in message or "SHA-256" in message


def test_a_file_for_0x1000_written_at_0x0_is_refused_saying_where_it_belongs(tmp_path):
    config = station(tmp_path, [image(0, MICROPYTHON_IDF4)], chips=["esp32"])
    with pytest.raises(ImageError, match="file is for 0x1000, not 0x0"):
        load_images(config.profile)


def test_a_unit_gets_its_nvs_inside_a_factory_image(tmp_path):
    """Identity on a factory image: the unit's NVS partition is written into the image's own
    bytes at the table's NVS offset (it lies inside the file), nothing else changed."""
    files = build_esp32_firmware("esp32c3", app_size=0x8000)
    factory = merge_bin(tmp_path, "esp32c3", files, "--target-offset", "0x0")
    config = station(tmp_path, [image(0, factory)], chips=["esp32c3"], identity={"mode": "record"})
    unit = Unit(7, "node-007", "")
    result, flash, _, _ = flash_one(
        config, "esp32c3", unit_for=lambda mac: dataclasses.replace(unit, mac=mac)
    )
    assert result.ok, result.detail
    data = factory.read_bytes()
    assert flash[:0x9000] == data[:0x9000] and flash[0xF000 : len(data)] == data[0xF000:]
    nvs = flash[0x9000:0xF000]
    assert nvs != data[0x9000:0xF000] and result.client_id.encode() in nvs


def test_a_partition_table_is_found_where_it_is_written_and_its_md5_row_checked(tmp_path):
    """A build with CONFIG_PARTITION_TABLE_OFFSET moved writes its table at 0x9000; a table
    whose MD5 row does not match its rows would be refused by the bootloader."""
    files = build_esp32_firmware("esp32c3", app_size=0x8000)
    table = files.pop(0x8000)
    moved = write(tmp_path, "table.bin", table)
    paths = [image(o, write(tmp_path, f"{o:x}.bin", d)) for o, d in files.items()]
    config = station(tmp_path, [*paths, image(0xC000, moved)], chips=["esp32c3"])
    loaded = load_images(config.profile)
    tables = [p.offset for i in loaded for p in i.parts if p.kind is Kind.PARTITION_TABLE]
    assert tables == [0xC000]
    damaged = bytearray(table)
    damaged[0x20 + 4] ^= 0x01  # the second row's offset
    moved.write_bytes(bytes(damaged))
    with pytest.raises(ImageError, match="table.bin: its MD5 row does not match its rows"):
        load_images(config.profile)


# -- ESP8266 firmware as shipped -------------------------------------------------------------


def at_firmware(tmp_path: Path) -> list[tuple[int, Path]]:
    """The AT / NONOS SDK set for a 4 MB module (4MB-c1), each file where the SDK says."""
    files = {**build_at_firmware(), "esp_init_data_default_v08.bin": RF_INIT_DATA}
    folder = tmp_path / "at"
    return [(o, write(folder, name, files[name])) for o, name in AT_LAYOUT_4MB_C1.items()]


def test_the_at_firmware_set_flashes_as_the_sdk_lays_it_out(tmp_path):
    """boot_v1.7 at 0x0 takes the 4MB-c1 size in its header (boot_v1.x finds user1 and
    user2 by it), user1 is a V2 image checked as one, the init data and blank.bin are data;
    the module boots into user1's firmware and says ready."""
    layout = at_firmware(tmp_path)
    user1 = layout[1][1]
    assert "Checksum: 0x" in output(
        subprocess.run([sys.executable, "-m", "esptool", "image-info", str(user1)],
                       capture_output=True, text=True)
    )  # fmt: skip
    config = station(
        tmp_path,
        [image(o, p) for o, p in layout],
        flash_size="4MB-c1",
        boot_check={"pattern": "ready", "timeout": 5},
    )
    images = load_images(config.profile)
    assert [p.kind.value for p in images[1].parts] == ["app"]  # user1, as a V2 image
    assert [i.parts for i in images[2:]] == [(), (), ()]  # data: nothing to check
    result, flash, _, _ = flash_one(config, "esp8266")
    assert result.ok, result.detail
    for offset, path in layout[1:]:
        data = path.read_bytes()
        assert flash[offset : offset + len(data)] == data, path.name
    boot = layout[0][1].read_bytes()
    assert flash[3] >> 4 == 0x6  # 4MB-c1 (esptool's ESP8266ROM.FLASH_SIZES), was 4MB (0x4)
    assert flash[4 : len(boot)] == boot[4:] and flash[2] == boot[2]
    assert result.boot_log.endswith("ready")


def test_a_damaged_v2_user1_is_refused(tmp_path):
    layout = at_firmware(tmp_path)
    user1 = layout[1][1]
    data = bytearray(user1.read_bytes())
    data[-0x100] ^= 0x01  # in the RAM segments the checksum covers
    user1.write_bytes(bytes(data))
    config = station(tmp_path, [image(o, p) for o, p in layout], flash_size="4MB-c1")
    with pytest.raises(ImageError, match="user1.2048.new.5.bin: segment checksum"):
        load_images(config.profile)


def test_a_gzip_ota_file_is_refused_in_one_line(tmp_path):
    import gzip

    ota = write(tmp_path, "tasmota.bin.gz", gzip.compress(MICROPYTHON_ESP8266.read_bytes()))
    config = station(tmp_path, [image(0, ota)])
    with pytest.raises(ImageError) as refused:
        load_images(config.profile)
    message = str(refused.value)
    assert "gzip-compressed" in message and "uncompressed .bin" in message
    assert "\n" not in message


def test_the_c1_flash_maps_are_esp8266_only(tmp_path):
    config = station(tmp_path, [image(0, MICROPYTHON_ESP8266)], flash_size="4MB-c1")
    assert config.profile.flash_size == "4MB-c1"
    files = build_esp32_firmware("esp32c3", app_size=0x8000)
    paths = [image(o, write(tmp_path, f"{o:x}.bin", d)) for o, d in files.items()]
    with pytest.raises(ConfigError, match="4MB-c1 is an ESP8266 flash map"):
        station(
            tmp_path,
            {"esp8266": [image(0, MICROPYTHON_ESP8266)], "esp32c3": paths},
            flash_size="4MB-c1",
        )


# -- ESP-IDF's flasher_args.json -------------------------------------------------------------


def idf_build_folder(tmp_path: Path, chip: str = "esp32s3", **changes) -> Path:
    """mxdbg's three files laid out as `idf.py build` leaves them, with the flasher_args.json
    it writes (ESP-IDF's project_include.cmake: offsets as hex strings, paths relative to
    the build folder, one entry per role)."""
    build = tmp_path / "build"
    for sub, name in (("bootloader", "bootloader.bin"), ("partition_table", "partition-table.bin")):
        write(build / sub, name, (MXDBG / name).read_bytes())
    write(build, "mxdbg.bin", (MXDBG / "mxdbg.bin").read_bytes())
    args = {
        "write_flash_args": ["--flash_mode", "dio", "--flash_size", "2MB", "--flash_freq", "80m"],
        "flash_settings": {"flash_mode": "dio", "flash_size": "2MB", "flash_freq": "80m"},
        "flash_files": {
            "0x0": "bootloader/bootloader.bin",
            "0x10000": "mxdbg.bin",
            "0x8000": "partition_table/partition-table.bin",
        },
        "bootloader": {"offset": "0x0", "file": "bootloader/bootloader.bin", "encrypted": "false"},
        "app": {"offset": "0x10000", "file": "mxdbg.bin", "encrypted": "false"},
        "partition-table": {
            "offset": "0x8000",
            "file": "partition_table/partition-table.bin",
            "encrypted": "false",
        },
        "extra_esptool_args": {
            "after": "hard_reset",
            "before": "default_reset",
            "stub": True,
            "chip": chip,
        },
    }
    args.update(changes)
    (build / "flasher_args.json").write_text(json.dumps(args, indent=4))
    return build / "flasher_args.json"


def test_a_profile_names_a_builds_flasher_args_and_it_is_flashed(tmp_path):
    args = idf_build_folder(tmp_path)
    config = station(tmp_path, str(args), chips=["esp32s3"])
    assert [(i.offset, i.path.name, i.chip) for i in config.profile.images] == [
        (0x0, "bootloader.bin", "esp32s3"),
        (0x10000, "mxdbg.bin", "esp32s3"),
        (0x8000, "partition-table.bin", "esp32s3"),
    ]
    result, flash, _, _ = flash_one(config, "esp32s3")
    assert result.ok, result.detail
    app = (MXDBG / "mxdbg.bin").read_bytes()
    assert flash[0x10000 : 0x10000 + len(app)] == app


@pytest.mark.parametrize(
    ("changes", "chip_key", "words"),
    [
        ({}, "esp32", "is a build for esp32s3, not esp32"),
        ({"flash_files": {"0x0": "bootloader/missing.bin"}}, None, "image file not found"),
        ({"flash_files": {"0x800": "mxdbg.bin"}}, None, "not aligned to a 4 KiB sector"),
        (
            {"flash_files": {"0x0": "mxdbg.bin", "0x10000": "mxdbg.bin"}},
            None,
            "overlaps images[0]",
        ),
        (
            {"app": {"offset": "0x10000", "file": "mxdbg.bin", "encrypted": "true"}},
            None,
            "app is to be written encrypted",
        ),
        ({"extra_esptool_args": {}}, None, "extra_esptool_args.chip is missing"),
    ],
    ids=["other-chip", "missing-file", "unaligned", "overlap", "encrypted", "no-chip"],
)
def test_a_flasher_args_file_is_checked_as_if_written_in_the_profile(
    tmp_path, changes, chip_key, words
):
    args = idf_build_folder(tmp_path, **changes)
    images = {chip_key: str(args)} if chip_key else str(args)
    with pytest.raises(ConfigError) as refused:
        station(tmp_path, images, chips=["esp32s3"])
    message = str(refused.value)
    assert words in message, message
    field = f"profiles.demo.images.{chip_key}" if chip_key else "profiles.demo.images"
    assert f": {field}: " in message and "\n" not in message
