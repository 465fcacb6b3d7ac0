"""The real-capacity check through the pipeline: a counterfeit that wraps is caught with
its data intact, a genuine module passes and keeps what it held."""

import contextlib

import pytest
from helpers import build_path, flash_profile, old_content

from flashjig.flashing.result import Reason
from flashjig.simulation.hardware import ModuleSpec, SimulatedHardware


@pytest.mark.slow
def test_a_wrap_around_counterfeit_is_caught_without_losing_data(make_config, tmp_path):
    data = tmp_path / "data.bin"
    data.write_bytes(b"\x5a" * 0x1000)
    config = make_config([(0, build_path(tmp_path)), (0x200000, data)])
    spec = ModuleSpec(flash_size="1MB", claimed_size="4MB")
    with SimulatedHardware(config, modules={"socket1": spec}) as hw:
        module = hw.modules["socket1"]
        before = old_content(module)
        result = flash_profile(config, hw)
        assert result.reason == Reason.FLASH_TOO_SMALL
        assert result.claimed_flash_size == "4MB" and result.flash_size == "1MB"
        assert "detected 1MB" in result.detail
        assert module.flash.read(0, 1 << 20) == before
    # A blank counterfeit too (equal contents everywhere: the write test decides).
    with SimulatedHardware(config, modules={"socket1": spec}) as hw:
        result = flash_profile(config, hw)
        assert result.flash_size == "1MB" and result.reason == Reason.FLASH_TOO_SMALL
        assert hw.modules["socket1"].flash.read(0, 1 << 20) == b"\xff" * (1 << 20)


@pytest.mark.slow
def test_genuine_4mb_module_passes_the_capacity_check(make_config, tmp_path):
    config = make_config([(0, build_path(tmp_path))])
    with SimulatedHardware(config, modules={"socket1": ModuleSpec("4MB")}) as hw:
        result = flash_profile(config, hw)
        assert result.ok and result.flash_size == "4MB" and result.claimed_flash_size is None


@pytest.mark.parametrize("content", [b"\x5a\xa5" * 0x800, b"\xff" * 0x1000], ids=["data", "blank"])
def test_the_capacity_check_leaves_a_genuine_module_as_it_was(make_config, tmp_path, content):
    # Equal sectors at 0 and at every smaller size look like a wrap until the marker
    # test says otherwise; what they held must be there afterwards.
    data = tmp_path / "data.bin"
    data.write_bytes(b"\x33" * 0x1000)
    config = make_config([(0x300000, data)])
    with SimulatedHardware(config, modules={"socket1": ModuleSpec("4MB")}) as hw:
        chip = hw.modules["socket1"].flash
        for offset in (0, 0x80000, 0x100000, 0x200000):
            chip.program(offset, content)
        result = flash_profile(config, hw)
        assert result.ok and result.flash_size == "4MB", result.detail
        for offset in (0, 0x80000, 0x100000, 0x200000):
            assert chip.read(offset, 0x1000) == content, hex(offset)


# -- what the check costs each kind of module: sectors erased, MD5s asked ----------------


@pytest.fixture
def stub_on():
    """esptool's stub on an emulated module with the given flash (no pins: in download
    mode), and the flash, for the check to be called on directly."""
    import esptool

    from flashjig.emulator import EmulatedModule

    with contextlib.ExitStack() as opened:

        def connect(flash):
            module = EmulatedModule("capacity", flash)
            opened.callback(module.close)
            # The loader closes its port (the stub's too) as the stack unwinds, before
            # the module it talks to.
            esp = opened.enter_context(
                esptool.cmds.detect_chip(
                    module.device, 115200, connect_mode="no-reset", connect_attempts=1
                )
            )
            return esptool.cmds.run_stub(esp)

        yield connect


MIB = 1 << 20


def check(stub_on, flash, *, rewritten=True):
    """Run the check; (what it found, sectors erased, MD5s asked, flash before and after)."""
    from flashjig.flashing import capacity

    esp = stub_on(flash)
    before = flash.read(0, flash.size)
    asked = []

    def md5(offset, length):
        asked.append((offset, length))
        return esp.flash_md5sum(offset, length)

    found = capacity.real_capacity(esp, flash.claimed_size, md5, rewritten=rewritten)
    return found, dict(flash.erases), len(asked), before, flash.read(0, flash.size)


def genuine_4mb(content=None):
    from flashjig.emulator import FlashChip

    chip = FlashChip(4 * MIB)
    if content:
        chip.program(0, content)
    return chip


def test_a_genuine_blank_4mb_module_costs_one_sector(stub_on):
    """One marker page at 0, left for the image that is written there next."""
    found, erased, asked, _, after = check(stub_on, genuine_4mb())
    assert (found.size, found.marked) == (4 * MIB, True)
    assert erased == {0: 1} and asked == 4  # sector 0, then 512 KB, 1 MB, 2 MB
    page = 0x100
    assert after[page:] == b"\xff" * (4 * MIB - page)  # nothing but the marker page written


def test_a_genuine_blank_module_whose_sector_0_is_not_rewritten_is_left_blank(stub_on):
    found, erased, _, before, after = check(stub_on, genuine_4mb(), rewritten=False)
    assert (found.size, found.marked) == (4 * MIB, False)
    assert erased == {0: 2} and after == before


@pytest.mark.parametrize("seed", [1, 2], ids=["other firmware", "this image"])
def test_a_genuine_4mb_module_holding_firmware_costs_md5s_alone(stub_on, seed):
    from flashjig.emulator.firmware import build_firmware

    found, erased, asked, before, after = check(
        stub_on, genuine_4mb(build_firmware(0x100000, seed=seed))
    )
    assert (found.size, found.marked) == (4 * MIB, False)
    assert erased == {} and after == before and asked == 4


def test_a_blank_counterfeit_is_caught_and_left_blank(stub_on):
    from flashjig.emulator import FlashChip

    found, erased, _, _, after = check(stub_on, FlashChip(MIB, claimed_size=4 * MIB))
    assert (found.size, found.marked) == (MIB, False)
    assert after == b"\xff" * MIB and erased == {0: 2}


def test_a_counterfeit_holding_firmware_is_caught_with_its_data(stub_on):
    from flashjig.emulator import FlashChip
    from flashjig.emulator.firmware import build_firmware

    chip = FlashChip(MIB, claimed_size=4 * MIB)
    chip.program(0, build_firmware(0x80000, seed=3))
    found, erased, _, before, after = check(stub_on, chip)
    assert found.size == MIB and after == before and erased == {}  # MD5s alone


@pytest.mark.slow
def test_a_blank_module_refused_after_the_check_keeps_its_blank_sector_0(make_config, tmp_path):
    """The check leaves its marker in sector 0 for the image, but the profile then refuses
    the module (it needs 4 MB, the module holds 2): the marker goes, the module is blank."""
    config = make_config([(0, build_path(tmp_path))], min_flash_size="4MB")
    with SimulatedHardware(config, modules={"socket1": ModuleSpec("2MB")}) as hw:
        chip = hw.modules["socket1"].flash
        result = flash_profile(config, hw)
        assert result.reason == Reason.FLASH_TOO_SMALL, result.detail
        assert chip.read(0, chip.size) == b"\xff" * chip.size
        assert dict(chip.erases) == {0: 2}  # the marker, then erased again
