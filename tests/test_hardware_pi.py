"""The Pi's own hardware: the GPIO chip of the 40-pin header is found by its label, on
every model's numbering (a real chip is not here to open: the labels stand in for it)."""

import pytest

from flashjig.errors import HardwareError
from flashjig.hardware.pi import PiHardware, header_chip


@pytest.mark.parametrize(
    ("labels", "chip"),
    [
        ({0: "gpio-brcmstb@107d508500", 4: "pinctrl-rp1", 10: "gpio-brcmstb@107d517c00"}, 4),
        ({0: "pinctrl-rp1", 10: "gpio-brcmstb@107d508500"}, 0),  # Pi 5, newer kernels
        ({0: "pinctrl-bcm2711", 1: "raspberrypi-exp-gpio"}, 0),  # Pi 4
        ({1: "raspberrypi-exp-gpio", 2: "pinctrl-bcm2835"}, 2),  # a chip numbered later
    ],
    ids=["pi5-old-kernel", "pi5", "pi4", "pi3"],
)
def test_the_header_chip_is_found_by_its_label(labels, chip):
    assert header_chip(labels) == chip


def test_a_board_without_a_header_chip_is_named_in_one_line():
    with pytest.raises(HardwareError, match="no GPIO chip labelled pinctrl-rp1") as info:
        header_chip({0: "gpio-mockup-A"})
    assert "gpiochip0 'gpio-mockup-A'" in str(info.value) and "\n" not in str(info.value)


def test_a_named_pin_factory_is_left_to_gpiozero(station_config, monkeypatch):
    monkeypatch.setenv("GPIOZERO_PIN_FACTORY", "mock")
    hardware = PiHardware(station_config)
    assert hardware.pin_factory is None
    assert hardware.port("socket1") == station_config.socket("socket1").serial
    assert set(hardware.absent_ports()) == {s.name for s in station_config.sockets}
