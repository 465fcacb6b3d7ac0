"""Shared fixtures: generated firmware, and station configs pointing at it."""

from pathlib import Path

import pytest
import yaml

from flashjig.config import load_config
from flashjig.emulator.firmware import build_firmware

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def firmware_1m(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("firmware") / "demo.bin"
    path.write_bytes(build_firmware(0x100000))
    return path


def write_station_config(tmp_path: Path, images: list[tuple[int, Path]], **profile) -> Path:
    """The shipped 5-socket config with its profile's images (and any settings) replaced."""
    data = yaml.safe_load((ROOT / "config" / "flashjig.yaml").read_text())
    settings = data["profiles"][data["active_profile"]]
    settings["images"] = [{"offset": offset, "file": str(path)} for offset, path in images]
    settings.update(profile)
    path = tmp_path / "flashjig.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def make_config(tmp_path):
    """Build a Config from the shipped one with other images or profile settings."""
    return lambda images, **profile: load_config(write_station_config(tmp_path, images, **profile))


@pytest.fixture
def station_config(make_config, firmware_1m):
    return make_config([(0, firmware_1m)])


def pytest_addoption(parser):
    parser.addoption(
        "--soak-cycles",
        type=int,
        default=6,
        help="insert-flash-remove cycles for tests/test_soak.py (the long run: 1000)",
    )
