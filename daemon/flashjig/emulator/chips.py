"""The chips the emulator can be, as data: what differs between an ESP8266, an ESP32, an
ESP32-C3 and an ESP32-S3 at the ROM loader's edge.

Register addresses, chip ids, magic values and bootloader offsets come from esptool's own
target classes (``rom``); what esptool does not hold (the ROM's command set and status
length, the boot log, the eFuse words that encode a MAC and revision) is written here, from
esptool 5.6's readers of those words and Espressif's ROM logs; see
../shared/esp32-notes.md and ../shared/esp8266-notes.md.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace

from esptool.loader import ESPLoader
from esptool.targets.esp32 import ESP32ROM
from esptool.targets.esp32c3 import ESP32C3ROM
from esptool.targets.esp32s3 import ESP32S3ROM
from esptool.targets.esp8266 import ESP8266ROM

# What an ESP32-family ROM serves on top of the ESP8266 ROM's set, by esptool's command
# names (esp32-notes.md, "ROM and stub"): erase-flash, erase-region and read-flash stay
# stub-only.
_ESP32_ROM_OPS = frozenset(
    {
        "SPI_SET_PARAMS",
        "SPI_ATTACH",
        "READ_FLASH_SLOW",
        "CHANGE_BAUDRATE",
        "FLASH_DEFL_BEGIN",
        "FLASH_DEFL_DATA",
        "FLASH_DEFL_END",
        "SPI_FLASH_MD5",
    }
)

# The two OUIs the ESP8266 ROM encodes in OTP word 1 instead of spelling out in word 3.
_OUI_CODES = {(0x18, 0xFE, 0x34): 0, (0xAC, 0xD0, 0x74): 1}


def _esp8266_fuses(mac: bytes, revision: int) -> dict[int, int]:
    """OTP words that decode, through ESP8266ROM.read_mac, to ``mac``.

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


def _esp32_fuses(mac: bytes, revision: int) -> dict[int, int]:
    """eFuse words that ESP32ROM reads back as ``mac`` and ``revision`` (major x 100 + minor).

    The major revision is three bits in three places (word 3 bit 15, word 5 bit 20, the APB
    date register's bit 31: 0, 1, 3, 7 for v0 to v3); the minor is word 5 bits 24-25. The
    8 MHz clock's eFuse trim reads 100 (see RomClock).
    """
    major, minor = divmod(revision, 100)
    bits = {0: 0, 1: 1, 2: 3, 3: 7}[major]
    word = ESP32ROM.EFUSE_RD_REG_BASE
    return {
        word + 4: int.from_bytes(mac[2:6], "big"),
        word + 8: int.from_bytes(mac[0:2], "big"),
        word + 12: (bits & 1) << 15 | 1 << 9,  # package 1: ESP32-D0WD-V3, as on WROOM-32E
        word + 16: 100,  # EFUSE_RD_CK8M_FREQ
        word + 20: ((bits >> 1) & 1) << 20 | minor << 24,
        ESP32ROM.APB_CTL_DATE_ADDR: ((bits >> 2) & 1) << 31,
    }


class RomClock:
    """How an ESP32's ROM estimates its crystal: by calibrating it against the 8 MHz RC
    clock (CK8M) whose trim is in eFuse, as esptool's ESP32ROM.get_rom_cal_crystal_freq
    reads back (RTC calibration x 15625 x the trim / 40). The ROM divides that estimate,
    not the real 40 MHz, by the rate CHANGE_BAUDRATE asks for, so with CK8M drifted the
    rate it sets is off ("it can sometimes set the wrong baud rate if the 'set baud rate'
    command is sent to ROM code", https://github.com/espressif/esptool/issues/365);
    esptool's ESP32ROM.change_baud asks for a corrected rate. How far real chips drift is
    not published: the emulator's default is no drift."""

    CALIBRATION_40MHZ = 1024  # with the trim at 100: exactly 40 MHz

    @staticmethod
    def words(error: float) -> dict[int, int]:
        """The calibration register of a ROM whose estimate is off by ``error``."""
        value = round(RomClock.CALIBRATION_40MHZ * (1 + error))
        return {ESP32ROM.RTCCALICFG1: value << ESP32ROM.TIMERS_RTC_CALI_VALUE_S}

    @staticmethod
    def estimate(read: Callable[[int], int]) -> float:
        """The ROM's crystal estimate in Hz, from its registers as esptool computes it."""
        calibration = (
            read(ESP32ROM.RTCCALICFG1) >> ESP32ROM.TIMERS_RTC_CALI_VALUE_S
        ) & ESP32ROM.TIMERS_RTC_CALI_VALUE
        trim = read(ESP32ROM.EFUSE_RD_REG_BASE + 16) & 0xFF  # EFUSE_RD_CK8M_FREQ
        return calibration * 15625 * trim / 40


def _block1_fuses(rom: type[ESPLoader]) -> Callable[[bytes, int], dict[int, int]]:
    """eFuse words that an ESP32-C3's or S3's ROM class reads back as ``mac`` and
    ``revision``: MAC in block 1 words 0-1, minor revision in word 3 bits 18-20 (and word 5
    bit 23), major in word 5 bits 24-25 (the same layout on both, at each chip's block 1).
    Security words (crypt count, secure boot, key purposes) stay 0."""
    block1 = int(rom.EFUSE_BLOCK1_ADDR)

    def fuses(mac: bytes, revision: int) -> dict[int, int]:
        major, minor = divmod(revision, 100)
        return {
            block1: int.from_bytes(mac[2:6], "big"),
            block1 + 4: int.from_bytes(mac[0:2], "big"),
            block1 + 12: (minor & 7) << 18,
            block1 + 20: (minor >> 3) << 23 | major << 24,
        }

    return fuses


def _esp8266_log(download: bool, cause: int) -> str:
    """``rst cause`` 1 is power-on, 2 an external reset on EN, 4 the watchdog."""
    mode = 1 if download else 3
    text = f"\r\n ets Jan  8 2013,rst cause:{cause}, boot mode:({mode},6)\r\n\r\n"
    return text + ("waiting for host\r\n" if download else "")


def _rom_log(
    banner: str, resets: dict[int, str], download_boot: str, flash_boot: str
) -> Callable[[bool, int], str]:
    """An ESP32-family ROM's boot log: its banner, ``rst:`` the reset cause (by the causes
    ``_esp8266_log`` numbers), ``boot:`` the strapped boot mode, then, in the UART loader,
    ``waiting for download``."""

    def log(download: bool, cause: int) -> str:
        boot = download_boot if download else flash_boot
        text = f"{banner}rst:{resets[cause]},boot:{boot}\r\n"
        return text + ("waiting for download\r\n" if download else "")

    return log


_ESP32_RESETS = {1: "0x1 (POWERON_RESET)", 2: "0x1 (POWERON_RESET)", 4: "0xc (SW_CPU_RESET)"}
_C3_S3_RESETS = {1: "0x1 (POWERON)", 2: "0x1 (POWERON)", 4: "0x3 (RTC_SW_SYS_RST)"}
_esp32_log = _rom_log(
    "ets Jun  8 2016 00:22:57\r\n\r\n",
    _ESP32_RESETS,
    "0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))",
    "0x13 (SPI_FAST_FLASH_BOOT)",
)
_esp32c3_log = _rom_log(
    "ESP-ROM:esp32c3-api1-20210207\r\nBuild:Feb  7 2021\r\n",
    _C3_S3_RESETS,
    "0x5 (DOWNLOAD(USB/UART0/1))",
    "0xc (SPI_FAST_FLASH_BOOT)",
)
_esp32s3_log = _rom_log(
    "ESP-ROM:esp32s3-20210327\r\nBuild:Mar 27 2021\r\n",
    _C3_S3_RESETS,
    "0x0 (DOWNLOAD(USB/UART0))",
    "0x8 (SPI_FAST_FLASH_BOOT)",
)


@dataclass(frozen=True)
class Chip:
    """One chip model: esptool's target class for it and what the ROM does around it."""

    name: str  # esptool's --chip name, and the stub file's
    rom: type[ESPLoader]
    rom_baud: int  # the boot log's rate: 74880 from a 26 MHz crystal, else 115200
    apb_hz: int  # what UART_CLKDIV divides: the baud it holds reads back as apb_hz / baud
    rom_status_bytes: int  # the ROM's reply status length; every stub sends 2
    rom_ops: frozenset[str]  # ROM commands beyond the ESP8266 ROM's (esptool's names)
    security_info: bool  # ROM and stub answer GET_SECURITY_INFO (ESP32-C3 and later)
    magic: int  # what the ROM reads at 0x40001000 (esptool's detection register)
    revision: int  # major x 100 + minor, as the modules sold now carry
    oui: bytes  # the first three bytes of the MACs Espressif gives this chip
    fuses: Callable[[bytes, int], dict[int, int]]
    boot_log: Callable[[bool, int], str]
    load_line: str  # the boot log's line per image segment, formatted with addr and size
    no_image_log: str  # what it prints when no valid boot image is at the offset
    checksum_error_log: str
    # ESP32s: 16 bytes after the common header, the chip id at 4-5 (esptool's bin_image).
    extended_header: bool = True
    # The ESP8266 ROM erases more than FLASH_BEGIN asks for (see loader.rom_erase_span).
    rom_erase_bug: bool = False
    # The ESP32 ROM sets CHANGE_BAUDRATE's rate from its crystal estimate (RomClock);
    # None: from the real clock, so it sets the rate asked for.
    rom_clock: RomClock | None = None
    # esp-flasher-stub (esptool 5.6's default, "2/") scales the divider the ROM synced with
    # as if that sync was at 115200, ignoring the old rate esptool sends: esp-stub-lib
    # src/target/esp8266/src/uart.c, new_clk_div = clk_div * 115200 / baudrate (issue 28's
    # design note, section 2). Its ESP32-family stubs set the rate asked for.
    stub_assumes_115200: bool = False

    @property
    def chip_id(self) -> int:
        return int(getattr(self.rom, "IMAGE_CHIP_ID", 0))

    @property
    def bootloader_offset(self) -> int:
        return int(self.rom.BOOTLOADER_FLASH_OFFSET)


ESP8266 = Chip(
    name="esp8266",
    rom=ESP8266ROM,
    rom_baud=74880,
    apb_hz=52_000_000,
    rom_status_bytes=2,
    rom_ops=frozenset(),
    security_info=False,
    magic=ESP8266ROM.MAGIC_VALUE,
    revision=0,
    oui=bytes([0x5C, 0xCF, 0x7F]),
    fuses=_esp8266_fuses,
    boot_log=_esp8266_log,
    load_line="load 0x{addr:08x}, len {size}, room 16 \r\n",
    no_image_log="ets_main.c \r\n",
    checksum_error_log="csum err\r\nets_main.c \r\n",
    extended_header=False,
    rom_erase_bug=True,
    stub_assumes_115200=True,
)
ESP32 = Chip(
    name="esp32",
    rom=ESP32ROM,
    rom_baud=115200,
    apb_hz=40_000_000,
    rom_status_bytes=4,
    rom_ops=_ESP32_ROM_OPS,
    security_info=False,
    magic=ESP32ROM.MAGIC_VALUE,
    revision=301,  # ESP32-D0WD-V3, the ECO3 silicon in modules sold today
    oui=bytes([0x24, 0x0A, 0xC4]),
    fuses=_esp32_fuses,
    boot_log=_esp32_log,
    load_line="load:0x{addr:08x},len:{size}\r\n",
    no_image_log="flash read err, 1000\r\nets_main.c 371 \r\n",
    checksum_error_log="checksum failure\r\nets_main.c 371 \r\n",
    rom_clock=RomClock(),
)
ESP32C3 = Chip(
    name="esp32c3",
    rom=ESP32C3ROM,
    rom_baud=115200,
    apb_hz=40_000_000,
    rom_status_bytes=4,
    rom_ops=_ESP32_ROM_OPS | {"GET_SECURITY_INFO"},
    security_info=True,
    magic=0x1B31506F,  # the value esptool used to detect ECO3 C3s by, before 0x14 did it
    revision=4,  # v0.4, current ESP32-C3 silicon; IDF's default bootloader needs v0.3+
    oui=bytes([0x34, 0x85, 0x18]),
    fuses=_block1_fuses(ESP32C3ROM),
    boot_log=_esp32c3_log,
    load_line="load:0x{addr:08x},len:0x{size:x}\r\n",
    no_image_log="invalid header: 0xffffffff\r\n",
    checksum_error_log="checksum failure\r\n",
)

# The S3's ROM is the C3's in what the emulator needs (commands, status, log lines, eFuse
# layout); its own are the target class, ids, revision, MACs and boot log.
ESP32S3 = replace(
    ESP32C3,
    name="esp32s3",
    rom=ESP32S3ROM,
    magic=0x00000009,  # the value esptool used to detect S3s by, before 0x14 did it
    revision=2,  # v0.2, the silicon in the S3 modules sold today
    oui=bytes([0x7C, 0xDF, 0xA1]),
    fuses=_block1_fuses(ESP32S3ROM),
    boot_log=_esp32s3_log,
)

CHIPS = {chip.name: chip for chip in (ESP8266, ESP32, ESP32C3, ESP32S3)}
