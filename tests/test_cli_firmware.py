"""``flashjig firmware``: a firmware-like image that esptool accepts."""

import subprocess
import sys

import pytest
from helpers import flashjig

pytestmark = pytest.mark.slow


def test_firmware_command_builds_an_image_esptool_accepts(tmp_path):
    out = tmp_path / "fw.bin"
    run = flashjig("firmware", str(out), "--size", "0x40000")
    assert run.returncode == 0, run.stderr
    assert out.stat().st_size == 0x40000
    info = subprocess.run(
        [sys.executable, "-m", "esptool", "--chip", "esp8266", "image-info", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert info.returncode == 0, info.stdout + info.stderr
    assert "(valid)" in info.stdout
