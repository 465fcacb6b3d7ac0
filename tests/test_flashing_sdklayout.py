"""The NONOS SDK's system area for ``rf_init: auto``: where it goes for each flash size, and
an image in its way refused."""

import pytest
from helpers import build_path, flash_profile, with_profile

from flashjig.flashing.result import Reason
from flashjig.flashing.sdklayout import RF_INIT_DATA, system_area
from flashjig.simulation.hardware import ModuleSpec, SimulatedHardware


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


@pytest.mark.slow
def test_rf_init_goes_where_the_size_says(make_config, tmp_path):
    config = with_profile(make_config([(0, build_path(tmp_path))]), rf_init="auto")
    for size, at in (("1MB", 0xFC000), ("4MB", 0x3FC000)):
        with SimulatedHardware(config, modules={"socket1": ModuleSpec(size)}) as hw:
            result = flash_profile(config, hw)
            assert result.ok, result.detail
            chip = hw.modules["socket1"].flash
            assert chip.read(at, 128) == RF_INIT_DATA
            assert chip.read(at + 0x1000, 0x3000) == b"\xff" * 0x3000


def test_rf_init_that_overlaps_an_image_is_refused(station_config):
    config = with_profile(station_config, rf_init="auto")  # a 1 MiB image on a 1 MB module
    with SimulatedHardware(config) as hw:
        result = flash_profile(config, hw)
        assert result.reason == Reason.IMAGE_LAYOUT
        assert "overlaps esp_init_data_default.bin at 0xfc000 on a 1MB module" in result.detail
