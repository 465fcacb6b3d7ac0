"""Strapping sequences: how the station puts a module into its ROM bootloader or back
into its firmware. The timings are esptool's and esp-serial-flasher's (EN low 100 ms,
GPIO0 held 50 ms past the rising edge, where the chip samples it)."""

import time
from dataclasses import dataclass

from flashjig.pins import StrapLine

RESET_HOLD_S = 0.1
GPIO0_HOLD_S = 0.05


@dataclass
class ModuleLines:
    """The two lines of one socket that decide how its module boots."""

    gpio0: StrapLine
    en: StrapLine

    def enter_bootloader(self) -> None:
        """GPIO0 low while EN rises: the ROM starts its UART download mode."""
        self.gpio0.assert_low()
        self.en.assert_low()
        time.sleep(RESET_HOLD_S)
        self.en.release()
        time.sleep(GPIO0_HOLD_S)
        self.gpio0.release()

    def run_firmware(self) -> None:
        """GPIO0 released while EN rises: the ROM boots the image in flash."""
        self.gpio0.release()
        self.en.assert_low()
        time.sleep(RESET_HOLD_S)
        self.en.release()

    def hold_in_reset(self) -> None:
        self.en.assert_low()

    def close(self) -> None:
        self.gpio0.close()
        self.en.close()
