"""``flashjig sim``: emulated modules on pseudo terminals, each named and on its own device
(esptool's side of them: tests/test_emulator_*.py), and the serial line's limits it takes."""

import esptool.cmds
import pytest
from esptool.util import FatalError
from helpers import run_esptool, start_sim


def test_sim_serves_three_modules(sim):
    assert list(sim) == ["module1", "module2", "module3"]
    assert len(set(sim.values())) == 3


@pytest.fixture(scope="module")
def limited_sim():
    """A module whose ROM syncs up to 115200, on an adapter good up to 460800."""
    yield from start_sim("--autobaud-max", "115200", "--adapter-max-baud", "460800")


def test_sim_autobaud_max(limited_sim):
    device = limited_sim["module1"]
    with pytest.raises(FatalError):
        esptool.cmds.detect_chip(device, 230400, connect_mode="no-reset", connect_attempts=1)
    with esptool.cmds.detect_chip(
        device, 115200, connect_mode="no-reset", connect_attempts=1
    ) as esp:
        assert esp.CHIP_NAME == "ESP8266"


@pytest.mark.parametrize(("baud", "works"), [(460800, True), (921600, False)])
def test_sim_adapter_max_baud(limited_sim, baud, works):
    result = run_esptool(limited_sim["module1"], "--baud", str(baud), "read-mac")
    assert (result.returncode == 0) == works, result.stdout + result.stderr
