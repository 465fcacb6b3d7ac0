"""A wheel built from the tree works on its own: installed in a fresh venv with its
dependencies (from a local wheelhouse holding no flashjig, so pip must resolve what the
wheel declares, as `pip install flashjig` would from the package index), away from the
source tree, `flashjig demo --fast` finds the sample config as package data.

The wheelhouse is made from what the test's own venv has installed (each distribution
packed back into a wheel from its RECORD): no dependency is downloaded (only pip's isolated
build of flashjig's wheel needs setuptools, from pip's cache or the index, as before)."""

import base64
import csv
import hashlib
import io
import os
import subprocess
import sys
import sysconfig
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow

# What pip writes on installing, not part of a wheel (RECORD is written anew).
INSTALL_ONLY = {"INSTALLER", "REQUESTED", "direct_url.json", "RECORD"}


def dependencies(name: str) -> list[metadata.Distribution]:
    """The installed distributions name needs to run (no extras of its own; the extras its
    dependencies ask of theirs), not name itself."""
    wanted: list[tuple[str, frozenset[str]]] = [(name, frozenset())]
    seen = {(canonicalize_name(name), "")}
    found: dict[str, metadata.Distribution] = {}
    while wanted:
        required, extras = wanted.pop()
        for line in metadata.distribution(required).requires or []:
            requirement = Requirement(line)
            marker = requirement.marker
            if marker and not any(marker.evaluate({"extra": e}) for e in {"", *extras}):
                continue
            key = canonicalize_name(requirement.name)
            if not {(key, e) for e in {"", *requirement.extras}} <= seen:
                seen |= {(key, e) for e in {"", *requirement.extras}}
                wanted.append((requirement.name, frozenset(requirement.extras)))
                found[key] = metadata.distribution(requirement.name)
    found.pop(canonicalize_name(name), None)
    return list(found.values())


def record_line(arcname: str, data: bytes) -> list[str]:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return [arcname, f"sha256={digest}", str(len(data))]


def repack(dist: metadata.Distribution, into: Path) -> Path:
    """An installed distribution as the wheel it was installed from (same files, same
    tags); its scripts and data files outside site-packages in the wheel's .data."""
    files = dist.files or []
    site = Path(str(dist.locate_file("")))
    (info,) = {Path(str(f.locate())).parent for f in files if f.name == "METADATA"}
    prefix = Path(sysconfig.get_path("data"))
    scripts = Path(sysconfig.get_path("scripts"))
    wheel_info = (info / "WHEEL").read_text().splitlines()
    tags = [line.split(":", 1)[1].strip() for line in wheel_info if line.startswith("Tag:")]
    parts = [sorted({tag.split("-")[i] for tag in tags}) for i in range(3)]
    name = canonicalize_name(dist.metadata["Name"]).replace("-", "_")
    data_dir = f"{name}-{dist.version}.data"
    entry_scripts = {ep.name for ep in dist.entry_points if ep.group.endswith("_scripts")}
    wheel = into / f"{name}-{dist.version}-{'-'.join('.'.join(p) for p in parts)}.whl"
    records = []
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_STORED) as zf:
        for file in files:
            path = Path(str(file.locate())).resolve()
            if "__pycache__" in file.parts or not path.is_file():
                continue
            if path.parent == info and path.name in INSTALL_ONLY:
                continue
            data = path.read_bytes()
            if path.is_relative_to(site):
                arcname = path.relative_to(site).as_posix()
            elif path.parent == scripts:
                if path.name in entry_scripts:
                    continue  # pip writes these from entry_points.txt
                if data.startswith(b"#!") and b"python" in data.split(b"\n", 1)[0]:
                    data = b"#!python" + data[data.index(b"\n") :]
                arcname = f"{data_dir}/scripts/{path.name}"
            else:
                arcname = f"{data_dir}/data/{path.relative_to(prefix).as_posix()}"
            zf.writestr(arcname, data)
            records.append(record_line(arcname, data))
        record = f"{info.name}/RECORD"
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows([*records, [record, "", ""]])
        zf.writestr(record, out.getvalue())
    return wheel


def test_a_wheel_in_a_fresh_venv_runs_the_demo(tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for dist in dependencies("flashjig"):
        repack(dist, wheels)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(wheels), str(ROOT)], check=True)
    (wheel,) = wheels.glob("flashjig-*.whl")
    venv = tmp_path / "venv"
    # No pip of its own (ensurepip's copy is 3 s): this pip installs into it. Nothing
    # compiled ahead (pip's compiling of numpy and matplotlib is 5 s): the demo compiles
    # what it imports.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    install = [*pip, "--python", str(venv / "bin" / "python"), "install", "--no-compile"]
    subprocess.run([*install, "--no-index", "--find-links", str(wheels), str(wheel)], check=True)
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
