"""The emulator against the real, unchanged esptool CLI: ``flashjig sim`` serves modules on
pseudo terminals and esptool talks to them as to hardware waiting in download mode."""

import hashlib
import queue
import re
import signal
import subprocess
import sys
import threading

import pytest

from flashjig.emulator.firmware import build_firmware

START_TIMEOUT = 10
ESPTOOL_TIMEOUT = 60
MIB = 1 << 20


def expected_mac(name: str) -> str:
    mac = bytes([0x5C, 0xCF, 0x7F]) + hashlib.sha256(name.encode()).digest()[:3]
    return ":".join(f"{b:02x}" for b in mac)


def start_sim(*args: str):
    """Run ``flashjig sim``; yield {name: device} once it says ``ready``."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "flashjig", "sim", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in proc.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    devices: dict[str, str] = {}
    try:
        while True:
            try:
                line = lines.get(timeout=START_TIMEOUT)
            except queue.Empty:
                pytest.fail(f"flashjig sim {' '.join(args)} not ready after {START_TIMEOUT} s")
            if line is None:
                proc.wait(timeout=5)
                pytest.fail(
                    f"flashjig sim exited with {proc.returncode} before ready: {proc.stderr.read()}"
                )
            if line == "ready":
                break
            name, device = line.split()
            devices[name] = device
        yield devices
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        proc.stderr.close()


@pytest.fixture(scope="module")
def sim():
    yield from start_sim("--modules", "3")


@pytest.fixture(scope="module")
def sim_4mb():
    yield from start_sim("--modules", "1", "--flash-size", "4MB")


@pytest.fixture(scope="module")
def counterfeit():
    yield from start_sim("--modules", "1", "--flash-size", "1MB", "--claimed-size", "4MB")


@pytest.fixture(scope="module")
def firmware(tmp_path_factory):
    path = tmp_path_factory.mktemp("firmware") / "firmware.bin"
    data = build_firmware(MIB)
    path.write_bytes(data)
    return path, data


def esptool(device: str, *args: str) -> subprocess.CompletedProcess:
    """The unchanged esptool CLI against a module already in download mode."""
    command = [
        sys.executable,
        "-m",
        "esptool",
        "--chip",
        "esp8266",
        "--port",
        device,
        "--before",
        "no-reset",
        "--after",
        "no-reset",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=ESPTOOL_TIMEOUT)


def output(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr


def ok(result: subprocess.CompletedProcess) -> str:
    text = output(result)
    assert result.returncode == 0, f"esptool {result.args[11:]} failed:\n{text}"
    return text


def read_flash(device: str, tmp_path, address: int, size: int, *options: str) -> bytes:
    out = tmp_path / f"read-{address:x}-{size:x}.bin"
    ok(esptool(device, *options, "read-flash", hex(address), hex(size), str(out)))
    data = out.read_bytes()
    assert len(data) == size
    return data


def write_file(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


# -- identity ---------------------------------------------------------------------------


def test_sim_serves_three_modules(sim):
    assert list(sim) == ["module1", "module2", "module3"]
    assert len(set(sim.values())) == 3


def test_chip_id(sim):
    text = ok(esptool(sim["module1"], "chip-id"))
    assert "ESP8266EX" in text
    assert "Chip ID" in text


@pytest.mark.parametrize("name", ["module1", "module2", "module3"])
def test_read_mac(sim, name):
    text = ok(esptool(sim[name], "read-mac"))
    macs = re.findall(r"MAC:\s+([0-9a-f:]{17})", text)
    assert macs, text
    assert set(macs) == {expected_mac(name)}


def test_flash_id_1mb(sim):
    text = ok(esptool(sim["module1"], "flash-id"))
    assert "Manufacturer: ef" in text
    assert "Device: 4014" in text
    assert "Detected flash size: 1MB" in text


def test_flash_id_4mb(sim_4mb):
    text = ok(esptool(sim_4mb["module1"], "flash-id"))
    assert "Manufacturer: ef" in text
    assert "Device: 4016" in text
    assert "Detected flash size: 4MB" in text


def test_flash_id_counterfeit_claims_4mb(counterfeit):
    text = ok(esptool(counterfeit["module1"], "flash-id"))
    assert "Device: 4016" in text
    assert "Detected flash size: 4MB" in text


# -- write, read, verify ----------------------------------------------------------------


def test_write_read_verify(sim, firmware, tmp_path):
    device = sim["module1"]
    path, data = firmware
    text = ok(esptool(device, "write-flash", "0x0", str(path)))
    assert "compressed" in text  # the stub's deflate path
    assert "Hash of data verified" in text
    assert read_flash(device, tmp_path, 0, MIB) == data
    assert "digest matched" in ok(esptool(device, "verify-flash", "0x0", str(path)))

    modified = bytearray(data)
    modified[0x54321] ^= 0x40
    bad = write_file(tmp_path, "modified.bin", bytes(modified))
    result = esptool(device, "verify-flash", "0x0", str(bad))
    assert result.returncode != 0
    assert "digest mismatch" in output(result)


def test_no_stub_write_survives_rom_erase_bug(sim, firmware, tmp_path):
    """esptool asks the ROM to erase less than it writes, relying on the ROM erasing more;
    the bytes beyond the requested erase are only right if the emulator has the bug too."""
    device = sim["module2"]
    path, old = firmware
    ok(esptool(device, "write-flash", "0x0", str(path)))

    offset = 0x3000
    new = build_firmware(MIB, seed=4242)[0x20000 : 0x20000 + 200000]
    assert new != old[offset : offset + len(new)]
    new_path = write_file(tmp_path, "part.bin", new)
    text = ok(esptool(device, "--no-stub", "write-flash", hex(offset), str(new_path)))
    assert "Stub flasher running" not in text
    assert "compressed" not in text  # the ROM has no deflate: plain FLASH_DATA

    assert "digest matched" in ok(esptool(device, "verify-flash", hex(offset), str(new_path)))
    end = offset + len(new)
    sector_end = -(-end // 0x1000) * 0x1000
    assert sector_end == 0x34000
    got = read_flash(device, tmp_path, 0, 0x40000)
    assert got[:offset] == old[:offset]
    assert got[offset:end] == new
    assert got[end:sector_end] == b"\xff" * (sector_end - end)
    assert got[sector_end:] == old[sector_end:0x40000]


def test_write_at_921600(sim, firmware):
    device = sim["module3"]
    path, _data = firmware
    text = ok(esptool(device, "--baud", "921600", "write-flash", "0x0", str(path)))
    assert "Changing baud rate to 921600" in text
    assert "Hash of data verified" in text
    text = ok(esptool(device, "verify-flash", "0x0", str(path)))
    assert "digest matched" in text


def test_erase_region(sim, tmp_path):
    device = sim["module3"]
    data = build_firmware(MIB, seed=7)[0x20000 : 0x20000 + 0x4000]
    assert b"\xff" * 16 not in data
    ok(esptool(device, "write-flash", "0xF000", str(write_file(tmp_path, "d.bin", data))))
    ok(esptool(device, "erase-region", "0x10000", "0x2000"))
    got = read_flash(device, tmp_path, 0xF000, 0x4000)
    assert got[:0x1000] == data[:0x1000]
    assert got[0x1000:0x3000] == b"\xff" * 0x2000
    assert got[0x3000:] == data[0x3000:]


def test_erase_flash(sim, tmp_path):
    device = sim["module3"]
    chunk = build_firmware(MIB, seed=11)[0x20000 : 0x20000 + 0x2000]
    ranges = [0x0, 0x7E000, 0xFE000]
    pairs = []
    for address in ranges:
        pairs += [hex(address), str(write_file(tmp_path, f"c{address:x}.bin", chunk))]
    ok(esptool(device, "write-flash", *pairs))
    assert read_flash(device, tmp_path, 0x7E000, 0x2000) == chunk
    ok(esptool(device, "erase-flash"))
    for address in ranges:
        assert read_flash(device, tmp_path, address, 0x2000) == b"\xff" * 0x2000


# -- counterfeit ------------------------------------------------------------------------


def test_counterfeit_wraps_at_1mib(counterfeit, tmp_path):
    device = counterfeit["module1"]
    pattern = bytes((i * 7 + i // 256) & 0xFF for i in range(0x1000))
    ok(esptool(device, "write-flash", "0x100000", str(write_file(tmp_path, "p.bin", pattern))))
    assert read_flash(device, tmp_path, 0x0, 0x1000) == pattern
