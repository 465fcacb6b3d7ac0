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
