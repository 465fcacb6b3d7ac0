"""The few ESP8266 registers esptool reads: chip magic, OTP MAC words, UART divider, and
the SPI peripheral's user-command registers through which it asks the flash chip for its
JEDEC id, SFDP signature and status."""

import struct
from collections.abc import Callable

from esptool.targets.esp8266 import ESP8266ROM

from flashjig.emulator.flashchip import FlashChip

CHIP_MAGIC_ADDR = 0x40001000
SPI = ESP8266ROM.SPI_REG_BASE
SPI_CMD = SPI + 0x00
SPI_ADDR = SPI + 0x04
SPI_USR2 = SPI + ESP8266ROM.SPI_USR2_OFFS
SPI_W0 = SPI + ESP8266ROM.SPI_W0_OFFS
SPI_CMD_USR = 1 << 18
SFDP_SIGNATURE = 0x50444653  # "SFDP", as a Winbond part answers at SFDP address 0

# The two OUIs the ROM encodes in OTP word 1 instead of spelling out in word 3.
_OUI_CODES = {(0x18, 0xFE, 0x34): 0, (0xAC, 0xD0, 0x74): 1}


def otp_words(mac: bytes) -> dict[int, int]:
    """OTP words that decode, through esptool's ESP8266ROM.read_mac, to ``mac``.

    Bit 4 of word 0 and bit 16 of word 2 stay clear: set, they would mark an ESP8285.
    """
    oui = tuple(mac[:3])
    mac0 = (mac[5] << 24) | 0x00A0E0  # low bits: part of the chip id, bit 4 clear
    if oui in _OUI_CODES:
        mac1 = (_OUI_CODES[oui] << 16) | (mac[3] << 8) | mac[4]
        mac3 = 0
    else:
        mac1 = (0x02 << 16) | (mac[3] << 8) | mac[4]
        mac3 = (mac[0] << 16) | (mac[1] << 8) | mac[2]
    return {
        ESP8266ROM.ESP_OTP_MAC0: mac0,
        ESP8266ROM.ESP_OTP_MAC1: mac1,
        0x3FF00058: 0x02000000,
        ESP8266ROM.ESP_OTP_MAC3: mac3,
    }


class Registers:
    """Register file of one chip; unknown addresses read back what was written (or 0)."""

    def __init__(self, mac: bytes, flash: FlashChip, baud: Callable[[], int]) -> None:
        self._flash = flash
        self._baud = baud
        self._values: dict[int, int] = {CHIP_MAGIC_ADDR: ESP8266ROM.MAGIC_VALUE}
        self._values.update(otp_words(mac))

    def read(self, addr: int) -> int:
        if addr == ESP8266ROM.UART_CLKDIV_REG:
            # 26 MHz crystal, APB at 52 MHz: 451 at 115200, as esptool expects.
            return round(52_000_000 / self._baud())
        return self._values.get(addr, 0)

    def write(self, addr: int, value: int, mask: int) -> None:
        old = self._values.get(addr, 0)
        self._values[addr] = (old & ~mask) | (value & mask)
        if addr == SPI_CMD and self._values[addr] & SPI_CMD_USR:
            self._run_spi_command()

    def write_records(self, payload: bytes) -> None:
        for offset in range(0, len(payload) - 15, 16):
            addr, value, mask, _delay = struct.unpack_from("<IIII", payload, offset)
            self.write(addr, value, mask)

    def _run_spi_command(self) -> None:
        command = self._values.get(SPI_USR2, 0) & 0xFF
        if command == 0x9F:  # RDID: manufacturer, memory type, capacity
            result = self._flash.jedec_id
        elif command == 0x5A:  # RDSFDP, 24-bit address in the top bits of SPI_ADDR
            address = self._values.get(SPI_ADDR, 0) >> 8
            result = SFDP_SIGNATURE if address == 0 else 0xFFFFFFFF
        else:  # status registers and anything else: idle, no protection bits
            result = 0
        self._values[SPI_W0] = result
        self._values[SPI_CMD] &= ~SPI_CMD_USR
