"""A mixed tray through the pipeline: ESP8266, ESP32-C3 and ESP32 sockets on UART straps,
each chip flashed with its own images from one profile, verified and booted; an "auto"
socket takes what its ROM says; a chip the profile has no images for, or one the socket
does not hold, fails that socket only, as the wrong chip, before anything is written."""

from pathlib import Path

import pytest
import yaml
from conftest import SHIPPED
from helpers import flash_profile, on_native_usb

from flashjig.config import load_config
from flashjig.emulator.faults import Faults
from flashjig.emulator.firmware import build_esp32_firmware
from flashjig.emulator.module import State
from flashjig.flashing.result import Reason
from flashjig.simulation.hardware import ModuleSpec, SimulatedHardware

C3_BANNER = "\r\nflashjig c3 firmware 1.0\r\nready\r\n"


@pytest.fixture(scope="module")
def c3_build(tmp_path_factory):
    folder = tmp_path_factory.mktemp("c3")
    files = []
    for offset, data in build_esp32_firmware("esp32c3", banner=C3_BANNER).items():
        path = folder / f"c3-{offset:x}.bin"
        path.write_bytes(data)
        files.append({"offset": offset, "file": str(path)})
    return files


def mixed_config(tmp_path, firmware_1m, c3_build, chips, *, native=(), **profile):
    """The shipped config: its profile with ESP8266 and ESP32-C3 images, the sockets' chips
    as given (in socket order), a boot check listening for the firmware's "ready"; the
    sockets named in ``native`` are native-USB sockets (no strap lines)."""
    data = yaml.safe_load(SHIPPED.read_text())
    settings = data["profiles"][data["active_profile"]]
    settings["images"] = {
        "esp8266": [{"offset": 0, "file": str(firmware_1m)}],
        "esp32c3": c3_build,
    }
    settings["boot_check"] = {"pattern": "ready", "timeout": 5}
    # The header as built: byte for byte what the files hold.
    settings.update(flash_mode="keep", flash_freq="keep", flash_size="keep")
    settings.update(profile)
    for socket, chip in zip(data["sockets"], chips, strict=False):
        socket["chip"] = chip
        if socket["name"] in native:
            on_native_usb(socket)
    path = tmp_path / "flashjig.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_config(path)


def test_a_mixed_tray_flashes_each_chip_with_its_images(tmp_path, firmware_1m, c3_build):
    config = mixed_config(tmp_path, firmware_1m, c3_build, ["esp8266", "esp32c3", "auto"])
    tray = {
        "socket1": ModuleSpec(),
        "socket2": ModuleSpec(flash_size="4MB"),
        "socket3": ModuleSpec(chip="esp32c3", flash_size="4MB"),
    }
    with SimulatedHardware(config, modules=tray) as hw:
        results = {name: flash_profile(config, hw, name) for name in tray}
        for name, result in results.items():
            assert result.ok, (name, result.reason, result.detail)
            assert hw.modules[name].state is State.APP
        esp8266, c3, auto = results["socket1"], results["socket2"], results["socket3"]
        assert esp8266.chip == "ESP8266EX" and esp8266.chip_revision is None
        assert c3.chip == "ESP32-C3 (QFN32) (revision v0.4)" and c3.chip_revision == "v0.4"
        assert auto.chip_revision == "v0.4"
        assert [i["offset"] for i in c3.images] == [0x0, 0x8000, 0x10000]
        assert [i["offset"] for i in esp8266.images] == [0x0]
        assert c3.boot_log.endswith("ready")
        module = hw.modules["socket2"]
        for image in c3_build:
            data = Path(image["file"]).read_bytes()
            assert module.flash.read(image["offset"], len(data)) == data


@pytest.mark.parametrize(
    ("socket_chip", "seated", "why"),
    [
        ("auto", "esp32", "found ESP32: profile 'demo' has images for esp8266, esp32c3 only"),
        ("esp8266", "esp32c3", "found ESP32-C3, the socket holds ESP8266"),
    ],
)
def test_a_chip_without_images_fails_as_the_wrong_chip_and_is_left_as_it_was(
    tmp_path, firmware_1m, c3_build, socket_chip, seated, why
):
    config = mixed_config(tmp_path, firmware_1m, c3_build, [socket_chip, "esp32c3"])
    tray = {"socket1": ModuleSpec(chip=seated, flash_size="4MB"), "socket2": ModuleSpec()}
    tray["socket2"] = ModuleSpec(flash_size="4MB")
    with SimulatedHardware(config, modules=tray) as hw:
        wrong = flash_profile(config, hw, "socket1")
        assert wrong.reason is Reason.WRONG_CHIP
        assert wrong.detail == why
        assert hw.modules["socket1"].flash.erases.total() == 0
        assert flash_profile(config, hw, "socket2").ok  # the tray's other socket is not held up


def test_the_profiles_flash_settings_go_into_the_c3_bootloader_with_its_digest_redone(
    tmp_path, firmware_1m, c3_build
):
    """dout and a detected 4 MB in the bootloader's header, as esptool's write-flash sets
    them: the appended SHA-256 is computed again, or IDF's bootloader would not start."""
    from esptool.bin_image import LoadFirmwareImage

    config = mixed_config(
        tmp_path, firmware_1m, c3_build, ["esp32c3"], flash_mode="dout", flash_size="detect"
    )
    with SimulatedHardware(config, modules={"socket1": ModuleSpec(flash_size="4MB")}) as hw:
        result = flash_profile(config, hw, "socket1")
        assert result.ok, result.detail
        written = hw.modules["socket1"].flash.read(0, 0x8000)
    image = LoadFirmwareImage("esp32c3", written)
    assert (image.flash_mode, image.flash_size_freq & 0xF0) == (3, 0x20)  # DOUT, 4MB
    assert image.stored_digest == image.calc_digest


# -- native USB ------------------------------------------------------------------------------


@pytest.mark.slow  # 2 s or more
def test_a_c3_on_native_usb_is_flashed_through_its_resets_and_new_ttys(
    tmp_path, firmware_1m, c3_build
):
    """Seated holding other firmware, it is reset into its ROM loader over USB, flashed at
    the socket's by-path name while its tty number changes at every reset, reset into the
    new firmware and heard saying ready on its new tty."""
    config = mixed_config(
        tmp_path, firmware_1m, c3_build, ["esp8266", "esp32c3"], native=("socket2",)
    )
    tray = {"socket1": ModuleSpec(), "socket2": ModuleSpec(boot_held=False)}
    with SimulatedHardware(config, modules=tray) as hw:
        module = hw.modules["socket2"]
        for offset, data in build_esp32_firmware("esp32c3", banner="\r\nold\r\n").items():
            module.flash.program(offset, data)
        module.usb_reset(download=False)
        assert module.state is State.APP
        ttys = [module.device]
        module.on_reenumerate.append(ttys.append)
        results = {name: flash_profile(config, hw, name) for name in tray}
        for name, result in results.items():
            assert result.ok, (name, result.reason, result.detail)
        assert module.state is State.APP
        assert results["socket2"].boot_log.endswith("ready")
        assert len(ttys) >= 3  # into the loader, into the firmware: a new tty each time
        assert hw.port("socket2") not in ttys  # flashed at its path, never a number
        for image in c3_build:
            data = Path(image["file"]).read_bytes()
            assert module.flash.read(image["offset"], len(data)) == data


@pytest.mark.slow  # 2 s or more
def test_a_blank_c3_on_native_usb_is_said_to_need_its_boot_line(tmp_path, firmware_1m, c3_build):
    config = mixed_config(tmp_path, firmware_1m, c3_build, ["esp32c3"], native=("socket1",))
    with SimulatedHardware(config, modules={"socket1": ModuleSpec(boot_held=False)}) as hw:
        result = flash_profile(config, hw, "socket1")
        assert result.reason is Reason.NO_SYNC
        assert "does not come up in download mode by itself" in result.detail
        assert hw.modules["socket1"].flash.erases.total() == 0


def test_a_blank_c3_seated_with_its_boot_button_held_is_flashed(tmp_path, firmware_1m, c3_build):
    config = mixed_config(tmp_path, firmware_1m, c3_build, ["esp32c3"], native=("socket1",))
    with SimulatedHardware(config, modules={"socket1": ModuleSpec(boot_held=True)}) as hw:
        result = flash_profile(config, hw, "socket1")
        assert result.ok, result.detail
        assert hw.modules["socket1"].state is State.APP


@pytest.mark.slow  # 2 s or more
@pytest.mark.parametrize("native", [False, True], ids=["uart", "native-usb"])
def test_a_c3_that_crashes_in_burn_in_fails_it(tmp_path, firmware_1m, c3_build, native):
    """On UART straps the ROM's banner gives the reset away; over native USB the device
    going off the bus does."""
    config = mixed_config(
        tmp_path,
        firmware_1m,
        c3_build,
        ["esp32c3"],
        native=("socket1",) if native else (),
        burn_in={"seconds": 4},
    )
    spec = ModuleSpec(faults=Faults(reset_after=1.5))
    with SimulatedHardware(config, modules={"socket1": spec}) as hw:
        result = flash_profile(config, hw, "socket1")
    assert result.reason is Reason.BURN_IN_FAILED, result.detail
    expected = "its USB device went away" if native else "printed 'rst:0x3 ('"
    assert expected in result.detail


@pytest.mark.parametrize(("size", "claimed"), [("16MB", None), ("8MB", "16MB")])
def test_big_c3_modules_are_measured(tmp_path, firmware_1m, c3_build, size, claimed):
    """ESP32-family modules carry up to 16 MB; a fake one is caught at those sizes too."""
    config = mixed_config(tmp_path, firmware_1m, c3_build, ["esp32c3"])
    spec = ModuleSpec(flash_size=size, claimed_size=claimed)
    with SimulatedHardware(config, modules={"socket1": spec}) as hw:
        result = flash_profile(config, hw, "socket1")
    assert result.ok, result.detail
    assert (result.flash_size, result.claimed_flash_size) == (size, claimed)
