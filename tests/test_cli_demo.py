"""``flashjig demo``: five simulated modules flashed, and the journal to show for it."""

import json

import pytest
from helpers import flashjig

pytestmark = pytest.mark.slow


def test_demo_flashes_five_simulated_modules(tmp_path):
    run = flashjig("demo", "--fast", "--state-dir", str(tmp_path))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "5 of 5 modules flashed and verified" in run.stdout
    for n in range(1, 6):
        assert f"socket{n}: ok" in run.stdout
    history = flashjig("history", "--json", "--state-dir", str(tmp_path))
    assert [r["result"] for r in json.loads(history.stdout)] == ["ok"] * 5


def test_the_mixed_demo_flashes_esp01s_and_esp32c3_together(tmp_path):
    """Three ESP-01S, an ESP32-C3 on UART straps and one on native USB: each chip with its
    own images, all verified and booted, the journal naming each chip and its revision."""
    run = flashjig("demo", "--mixed", "--fast", "--state-dir", str(tmp_path))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "5 of 5 modules flashed and verified" in run.stdout
    history = json.loads(flashjig("history", "--json", "--state-dir", str(tmp_path)).stdout)
    rows = {row["socket"]: row for row in history}
    assert {name: row["result"] for name, row in rows.items()} == {
        f"socket{n}": "ok" for n in range(1, 6)
    }
    for name in ("socket2", "socket4"):
        assert rows[name]["chip"] == "ESP32-C3 (QFN32) (revision v0.4)"
        assert rows[name]["chip_revision"] == "v0.4"
        assert [image["offset"] for image in rows[name]["images"]] == [0x0, 0x8000, 0x10000]
    for name in ("socket1", "socket3", "socket5"):
        assert rows[name]["chip"] == "ESP8266EX" and rows[name]["chip_revision"] is None
        assert [image["offset"] for image in rows[name]["images"]] == [0x0]
