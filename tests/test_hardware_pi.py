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


PI5_PORTS = [
    "platform-xhci-hcd.0-usb-0:1",
    "platform-xhci-hcd.0-usb-0:2",
    "platform-xhci-hcd.1-usb-0:1",
    "platform-xhci-hcd.1-usb-0:2",
]


def with_serials(config, model, names):
    import dataclasses

    sockets = [
        dataclasses.replace(socket, serial=f"/dev/serial/by-path/{name}-port0")
        for socket, name in zip(config.sockets, names, strict=False)
    ]
    station = dataclasses.replace(config.station, pi_model=model)
    return dataclasses.replace(config, station=station, sockets=tuple(sockets))


@pytest.mark.parametrize("port", PI5_PORTS)
def test_each_of_the_pi5s_four_usb_ports_is_one(station_config, port):
    """Two RP1 controllers, each with a USB 2 root hub of two ports: an adapter straight in
    a socket is <port>:1.0, behind a hub <port>.N:1.0, in all four, not only xhci-hcd.0's
    port 1 (the usb-0:1.N the example config names)."""
    from flashjig.hardware.pi import USB_PORTS, usb_path_problems, usb_port

    assert set(USB_PORTS["5"]) == set(PI5_PORTS)
    names = [f"{port}:1.0", f"{port}.1:1.0", f"{port}.4.2:1.0"]
    assert [usb_port(f"{name}-port0", "5") for name in names] == [port] * 3
    assert usb_path_problems(with_serials(station_config, "5", names)) == []


def test_a_name_under_no_port_of_the_model_is_refused(station_config):
    from flashjig.hardware.pi import usb_path_problems, usb_port

    names = ["platform-xhci-hcd.0-usb-0:3.1:1.0", "platform-xhci-hcd.1-usb-0:2.1:1.0"]
    assert usb_port(names[0], "5") is None
    problems = usb_path_problems(with_serials(station_config, "5", names))
    assert len(problems) == 1 and problems[0].startswith("sockets[0].serial: ")
    assert "under none of the Raspberry Pi 5's USB ports" in problems[0]
    # A Pi 4's four: its VIA hub's ports 1-1.1 to 1-1.4.
    pi4 = "platform-fd500000.pcie-pci-0000:01:00.0-usb-0:1"
    assert usb_port(f"{pi4}.4.2:1.0", "4") == f"{pi4}.4"
    assert usb_port(f"{pi4}.5.2:1.0", "4") is None
    assert (
        "names a Raspberry Pi 5 USB port"
        in usb_path_problems(with_serials(station_config, "4", names[1:]))[0]
    )
