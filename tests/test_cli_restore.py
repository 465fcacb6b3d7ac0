"""``flashjig restore``: a read-back backup written onto the module in a socket."""

import json

import pytest
from helpers import flashjig

pytestmark = pytest.mark.slow


def test_restore_writes_a_backup_back(station_config, tmp_path):
    backup = tmp_path / "old.bin"
    backup.write_bytes(b"\x00\x11\x22\x33" * (0x100000 // 4))  # not an image: still restored
    run_ = flashjig(
        "restore",
        str(backup),
        "--socket",
        "socket2",
        "--simulate",
        "--config",
        str(station_config.path),
    )
    assert run_.returncode == 0, run_.stderr
    result = json.loads(run_.stdout)
    assert result["result"] == "ok" and result["bytes"] == 0x100000
