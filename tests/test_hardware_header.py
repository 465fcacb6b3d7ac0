"""The Pi's 40-pin header: the pins each model's buses and the HAT EEPROM take, so that a
config cannot wire a socket to one of them."""

import dataclasses

import pytest

from flashjig.hardware.header import pin_problems


@pytest.mark.parametrize(
    ("model", "buses", "expected"),
    [
        ("5", ["uart5"], ["station.buses[0]: uart5 does not exist on a Raspberry Pi 5"]),
        ("3B+", ["uart2"], ["station.buses[0]: uart2 does not exist on a Raspberry Pi 3B+"]),
        ("Zero2W", ["uart3"], ["station.buses[0]: uart3 does not exist on a Raspberry Pi Zero2W"]),
        (
            "4",
            ["uart3"],  # Pi 4: uart3 on GPIO4/5
            [
                "sockets[0].boot: GPIO4 (header pin 7) is reserved for uart3 TXD",
                "sockets[1].boot: GPIO5 (header pin 29) is reserved for uart3 RXD",
            ],
        ),
        (
            "5",
            ["uart3"],  # Pi 5: uart3-pi5 on GPIO8/9
            [
                "sockets[0].en: GPIO9 (header pin 21) is reserved for uart3 RXD",
                "sockets[4].boot: GPIO8 (header pin 24) is reserved for uart3 TXD",
            ],
        ),
        ("4", ["spi0", "uart4"], ["station.buses[1]: uart4 and spi0 both need GPIO8, GPIO9"]),
        ("4", ["uart0", "uart0"], ["station.buses[1]: uart0 is listed twice"]),
    ],
)
def test_bus_pins_per_pi_model(shipped, model, buses, expected):
    station = dataclasses.replace(shipped.station, pi_model=model, buses=tuple(buses))
    problems = pin_problems(dataclasses.replace(shipped, station=station))
    for fragment in expected:
        assert any(problem.startswith(fragment) for problem in problems), (fragment, problems)


def test_hat_eeprom_pins_are_reserved_unless_a_uart_takes_them(shipped):
    sockets = list(shipped.sockets)
    sockets[0] = dataclasses.replace(sockets[0], power="GPIO1")
    config = dataclasses.replace(shipped, sockets=tuple(sockets))
    assert pin_problems(config) == [
        "sockets[0].power: GPIO1 (header pin 28) is reserved for ID_SC of the HAT ID EEPROM"
    ]
    station = dataclasses.replace(shipped.station, buses=("uart2",))  # Pi 4: GPIO0/1
    assert pin_problems(dataclasses.replace(config, station=station)) == [
        "sockets[0].power: GPIO1 (header pin 28) is reserved for uart2 RXD (station.buses)"
    ]
