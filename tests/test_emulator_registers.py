"""The registers esptool reads, through the unchanged esptool CLI against `flashjig sim`:
the chip's magic and id, and the MAC in its OTP words."""

import re

import pytest
from helpers import expected_mac, ok, run_esptool


def test_chip_id(sim):
    text = ok(run_esptool(sim["module1"], "chip-id"))
    assert "ESP8266EX" in text
    assert "Chip ID" in text


@pytest.mark.parametrize("name", ["module1", "module2", "module3"])
def test_read_mac(sim, name):
    text = ok(run_esptool(sim[name], "read-mac"))
    macs = re.findall(r"MAC:\s+([0-9a-f:]{17})", text)
    assert macs, text
    assert set(macs) == {expected_mac(name)}
