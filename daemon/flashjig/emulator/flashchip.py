"""A SPI NOR flash chip as an ESP module carries it (an ESP-01S's 1 or 4 MB part, an
ESP32 board's 4 MB one).

NOR semantics: erasing sets a 4 KiB sector to 0xFF, programming can only clear bits.
A counterfeit chip answers to a larger JEDEC capacity than it holds and wraps addresses,
as the cheap "4 MB" ESP-01S modules with 1 MB PUYA chips do.

Timing figures for the optional line-rate model are the typical values of the Winbond
W25Q32JV datasheet (AC electrical characteristics): page program tPP 0.4 ms per 256-byte
page, sector erase tSE 45 ms per 4 KiB, 64 KiB block erase tBE2 150 ms, chip erase tCE
10 s for 4 MB (scaled by capacity for smaller parts). The stub's MD5 rate is our
estimate for an 80 MHz ESP8266 reading flash and hashing in software (2 MiB/s); no
datasheet gives it.
"""

import collections
import io
import mmap
import os
from dataclasses import dataclass
from pathlib import Path

SECTOR = 0x1000
BLOCK = 0x10000
PAGE = 0x100

# JEDEC capacity byte -> bytes; Winbond (0xEF 0x40 ..) parts are the usual ESP-01S flash.
CAPACITY_CODES = {
    0x13: 512 * 1024,
    0x14: 1 << 20,
    0x15: 2 << 20,
    0x16: 4 << 20,
    0x17: 8 << 20,
    0x18: 16 << 20,
}
WINBOND = 0xEF
PUYA = 0x85


@dataclass(frozen=True)
class FlashTimings:
    """Typical program/erase times in seconds (W25Q32JV datasheet) and MD5 rate."""

    page_program: float = 0.0004
    sector_erase: float = 0.045
    block_erase: float = 0.150
    chip_erase_per_mib: float = 2.5  # tCE 10 s for 4 MiB
    md5_per_mib: float = 0.5  # estimate, see module docstring


def size_code(size: int) -> int:
    for code, capacity in CAPACITY_CODES.items():
        if capacity == size:
            return code
    raise ValueError(f"unsupported flash size {size} (512KB to 16MB)")


class FlashChip:
    """The flash memory of one module, optionally backed by a file so it survives restarts.

    ``claimed_size`` is what the JEDEC id reports; ``size`` is what the silicon holds.
    ``bad_sectors`` never take a program: bits stay as they were, as on a worn chip.
    """

    def __init__(
        self,
        size: int = 1 << 20,
        *,
        claimed_size: int | None = None,
        manufacturer: int = WINBOND,
        backing_file: str | os.PathLike[str] | None = None,
        bad_sectors: frozenset[int] = frozenset(),
        timings: FlashTimings = FlashTimings(),
    ) -> None:
        size_code(size)
        self.size = size
        self.claimed_size = claimed_size or size
        if self.claimed_size < size:
            raise ValueError("a chip cannot claim less than it holds")
        self.jedec_id = manufacturer | (0x40 << 8) | (size_code(self.claimed_size) << 16)
        self.bad_sectors = bad_sectors
        self.timings = timings
        # Erase cycles per physical sector (the wear a station puts on a module).
        self.erases: collections.Counter[int] = collections.Counter()
        self._file: io.BufferedRandom | None = None
        if backing_file is None:
            self._mem: bytearray | mmap.mmap = bytearray(b"\xff" * size)
        else:
            self._mem = self._open_backing(Path(backing_file), size)

    def _open_backing(self, path: Path, size: int) -> mmap.mmap:
        fresh = not path.exists()
        self._file = open(path, "a+b")  # noqa: SIM115 - lives as long as the chip
        if fresh or os.path.getsize(path) != size:
            self._file.truncate(0)
            self._file.write(b"\xff" * size)
            self._file.flush()
        return mmap.mmap(self._file.fileno(), size)

    def close(self) -> None:
        """Release the memory now: a simulated station seats thousands of modules."""
        if isinstance(self._mem, mmap.mmap):
            self._mem.flush()
            self._mem.close()
        self._mem = bytearray()
        if self._file is not None:
            self._file.close()
            self._file = None

    def _physical(self, addr: int) -> int:
        """Counterfeits ignore the address bits they lack."""
        return addr % self.size

    def read(self, addr: int, length: int) -> bytes:
        out = bytearray()
        while length > 0:
            phys = self._physical(addr)
            n = min(length, self.size - phys)
            out += self._mem[phys : phys + n]
            addr += n
            length -= n
        return bytes(out)

    def erase_sector(self, addr: int) -> None:
        phys = self._physical(addr - addr % SECTOR)
        self._mem[phys : phys + SECTOR] = b"\xff" * SECTOR
        self.erases[phys // SECTOR] += 1

    def erase_range(self, addr: int, length: int) -> None:
        """Erase every sector that the range touches."""
        start = addr - addr % SECTOR
        for sector in range(start, addr + length, SECTOR):
            self.erase_sector(sector)

    def erase_chip(self) -> None:
        self._mem[:] = b"\xff" * self.size
        self.erases.update(range(self.size // SECTOR))

    def program(self, addr: int, data: bytes) -> None:
        """NOR program: each bit can only go from 1 to 0."""
        while data:
            phys = self._physical(addr)
            n = min(len(data), self.size - phys, SECTOR - phys % SECTOR)
            if phys // SECTOR not in self.bad_sectors:
                old = int.from_bytes(self._mem[phys : phys + n], "little")
                new = old & int.from_bytes(data[:n], "little")
                self._mem[phys : phys + n] = new.to_bytes(n, "little")
            addr += n
            data = data[n:]

    # Line-rate model: how long the chip is busy for an operation.
    def program_time(self, length: int) -> float:
        return -(-length // PAGE) * self.timings.page_program

    def erase_time(self, sectors: int) -> float:
        """Erase time using 64 KiB block erases where a run of 16 sectors allows it."""
        blocks, rest = divmod(sectors, BLOCK // SECTOR)
        return blocks * self.timings.block_erase + rest * self.timings.sector_erase

    def chip_erase_time(self) -> float:
        return self.timings.chip_erase_per_mib * self.size / (1 << 20)

    def md5_time(self, length: int) -> float:
        return self.timings.md5_per_mib * length / (1 << 20)
