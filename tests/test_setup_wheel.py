"""A wheel built from the tree works on its own: installed in a fresh venv (pip fetches its
dependencies from the package index, as `pip install flashjig` would), away from the source
tree, `flashjig demo --fast` finds the sample config as package data."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def test_a_wheel_in_a_fresh_venv_runs_the_demo(tmp_path):
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(wheels), str(ROOT)], check=True)
    (wheel,) = wheels.glob("flashjig-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], check=True)
    (sample,) = (venv / "lib").glob("python3*/site-packages/flashjig/examples/flashjig.yaml")
    assert not sample.is_symlink()  # a copy of config/flashjig.yaml, not a link into the tree
    assert sample.read_text() == (ROOT / "config" / "flashjig.yaml").read_text()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "FLASHJIG_CONFIG")}
    demo = subprocess.run(
        [str(venv / "bin" / "flashjig"), "demo", "--fast"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert demo.returncode == 0, demo.stderr
    assert demo.stdout.count(": ok ") == 5, demo.stdout
