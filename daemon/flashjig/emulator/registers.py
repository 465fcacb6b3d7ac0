"""The few registers esptool reads: the chip detection magic, the eFuse (or OTP) words
holding the MAC and revision, the UART divider, and the SPI peripheral's user-command
registers through which it asks the flash chip for its JEDEC id, SFDP signature and status.
Addresses are those of the chip's esptool target class."""

import struct
from collections.abc import Callable

from esptool.loader import ESPLoader

from flashjig.emulator.chips import Chip
from flashjig.emulator.flashchip import FlashChip

CHIP_MAGIC_ADDR = ESPLoader.CHIP_DETECT_MAGIC_REG_ADDR
SPI_CMD_USR = 1 << 18
SFDP_SIGNATURE = 0x50444653  # "SFDP", as a Winbond part answers at SFDP address 0


class Registers:
    """Register file of one chip; unknown addresses read back what was written (or 0)."""

    def __init__(
        self,
        chip: Chip,
        mac: bytes,
        flash: FlashChip,
        divider: Callable[[], int],
        *,
        rom_xtal_error: float = 0.0,
    ) -> None:
        self._chip = chip
        self._flash = flash
        self._divider = divider
        rom = chip.rom
        self._spi_cmd = rom.SPI_REG_BASE
        self._spi_addr = rom.SPI_REG_BASE + 0x04
        self._spi_usr2 = rom.SPI_REG_BASE + rom.SPI_USR2_OFFS
        self._spi_w0 = rom.SPI_REG_BASE + rom.SPI_W0_OFFS
        self._values: dict[int, int] = {CHIP_MAGIC_ADDR: chip.magic}
        self._values.update(chip.fuses(mac, chip.revision))
        if chip.rom_clock is not None:
            self._values.update(chip.rom_clock.words(rom_xtal_error))

    def read(self, addr: int) -> int:
        if addr == self._chip.rom.UART_CLKDIV_REG:
            # 451 at 115200 on an ESP8266 (APB 52 MHz), 347 on the ESP32s (40 MHz).
            return self._divider()
        return self._values.get(addr, 0)

    def write(self, addr: int, value: int, mask: int) -> None:
        old = self._values.get(addr, 0)
        self._values[addr] = (old & ~mask) | (value & mask)
        if addr == self._spi_cmd and self._values[addr] & SPI_CMD_USR:
            self._run_spi_command()

    def write_records(self, payload: bytes) -> None:
        for offset in range(0, len(payload) - 15, 16):
            addr, value, mask, _delay = struct.unpack_from("<IIII", payload, offset)
            self.write(addr, value, mask)

    def _run_spi_command(self) -> None:
        command = self._values.get(self._spi_usr2, 0) & 0xFF
        if command == 0x9F:  # RDID: manufacturer, memory type, capacity
            result = self._flash.jedec_id
        elif command == 0x5A:  # RDSFDP, 24-bit address (in the top bits where MSB-aligned)
            address = self._values.get(self._spi_addr, 0)
            if self._chip.rom.SPI_ADDR_REG_MSB:
                address >>= 8
            result = SFDP_SIGNATURE if address == 0 else 0xFFFFFFFF
        else:  # status registers and anything else: idle, no protection bits
            result = 0
        self._values[self._spi_w0] = result
        self._values[self._spi_cmd] &= ~SPI_CMD_USR
