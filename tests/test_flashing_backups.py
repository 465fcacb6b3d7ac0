"""Read-back backups: kept only when the module's MD5 agrees, and equal to what the module
held before the station wrote it."""

import hashlib
from pathlib import Path

import pytest
from helpers import flash_profile, old_content, with_profile

from flashjig.errors import BackupError
from flashjig.flashing.backups import list_backups, save
from flashjig.simulation.hardware import SimulatedHardware


def test_backup_is_kept_only_when_the_md5_agrees(tmp_path):
    data = bytes(range(256)) * 16
    with pytest.raises(BackupError, match="differs"):
        save(
            tmp_path,
            mac="5c:cf:7f:00:00:01",
            data=data,
            module_md5="0" * 32,
            socket="socket1",
            station="s",
        )
    path = save(
        tmp_path,
        mac="5c:cf:7f:00:00:01",
        data=data,
        module_md5=hashlib.md5(data).hexdigest(),
        socket="socket1",
        station="s",
    )
    assert path.read_bytes() == data
    (meta,) = list_backups(tmp_path)
    assert meta["mac"] == "5c:cf:7f:00:00:01" and meta["path"] == str(path)
    assert not list(path.parent.glob(".*.tmp"))


@pytest.mark.slow
def test_backup_equals_the_previous_content(station_config, tmp_path):
    config = with_profile(station_config, backup="before_write")
    with SimulatedHardware(config) as hw:
        before = old_content(hw.modules["socket1"])
        result = flash_profile(config, hw, state_dir=tmp_path / "state")
        assert result.ok, result.detail
        assert Path(result.backup).read_bytes() == before
        assert hw.modules["socket1"].flash.read(0, 0x1000) != before[:0x1000]
