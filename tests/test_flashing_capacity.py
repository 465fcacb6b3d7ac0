"""The real-capacity check through the pipeline: a counterfeit that wraps is caught with
its data intact, a genuine module passes and keeps what it held."""

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
