"""The package a Pi installs: `./jig deb arm64`, built on this (amd64) machine as the README
says, installed with apt into a fresh arm64 Bookworm root run under qemu-user, where the
installed `flashjig` checks the Pi 5 sample config, runs the demo, and its unit verifies.

Raspberry Pi OS has python3-lgpio, which the arm64 package depends on and Debian lacks: a
stand-in is made here from lgpio's own published wheel (PyPI, lgpio 0.2.2.0, by joan of
abyz.me.uk, released into the public domain: the Unlicense), its module installed where
Debian's python3 packages go. No Pi is here: lgpio is imported, never driven."""

import gzip
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from buildcache import build_deb, once_per_run
from debroot import Machine, bookworm_tarball, runs_here, unpack

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="building and installing a package needs root"),
]

LGPIO_WHEEL = "lgpio-0.2.2.0-cp311-cp311-manylinux_2_34_aarch64.whl"
LGPIO_SHA256 = "a2f71fb95b149d8ac82c7c6bae70f054f6dc42a006ad35c90c7d8e54921fbcf4"


def lgpio_stand_in(into: Path) -> Path:
    """python3-lgpio for arm64, from lgpio's published wheel (checked by its digest)."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary",
         ":all:", "--platform", "manylinux_2_34_aarch64", "--python-version", "3.11",
         "--implementation", "cp", "--dest", str(into), "lgpio==0.2.2.0"],
        check=True,
    )  # fmt: skip
    wheel = into / LGPIO_WHEEL
    assert hashlib.sha256(wheel.read_bytes()).hexdigest() == LGPIO_SHA256
    tree = into / "python3-lgpio"
    site = tree / "usr" / "lib" / "python3" / "dist-packages"
    with zipfile.ZipFile(wheel) as unpacked:
        unpacked.extractall(site, [n for n in unpacked.namelist() if not n.endswith("/")])
    (tree / "DEBIAN").mkdir()
    (tree / "DEBIAN" / "control").write_text(
        "Package: python3-lgpio\nVersion: 0.2.2.0-0flashjig1\nArchitecture: arm64\n"
        "Maintainer: flashjig tests <tests@flashjig.invalid>\nDepends: python3 (>= 3.11)\n"
        "Description: stand-in for Raspberry Pi OS's python3-lgpio\n"
        " lgpio's module from its PyPI wheel, for flashjig's arm64 package test.\n"
    )
    deb = into / "python3-lgpio_0.2.2.0-0flashjig1_arm64.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-b", str(tree), str(deb)], check=True,
                   capture_output=True)  # fmt: skip
    return deb


@pytest.fixture(scope="session")  # once per run, whatever else the worker runs between
def pi(tmp_path_factory) -> Machine:
    """An arm64 Bookworm root with the arm64 package and the lgpio stand-in installed by apt,
    as on a Pi: apt resolves the package's dependencies from what the root has, offline."""
    # As root, a machine that cannot run arm64 programs is a failure, never a skip.
    assert runs_here("arm64"), "no qemu-user for arm64 programs: ./jig test sets it up"
    scratch = tmp_path_factory.mktemp("arm64")
    deb = once_per_run(tmp_path_factory, "deb-arm64", lambda: build_deb("arm64"))
    root = unpack(bookworm_tarball("arm64", scratch), scratch / "root")
    machine = Machine(root, deb, timeout=900)
    lgpio = machine.put(lgpio_stand_in(scratch))
    assert machine.run("dpkg", "--print-architecture").stdout.strip() == "arm64"
    machine.run("apt-get", "install", "-y", str(lgpio), str(machine.deb))
    return machine


def test_the_installed_command_runs_on_arm64_with_lgpio(pi):
    found = pi.run(
        "/opt/flashjig/venv/bin/python3", "-I", "-c",
        "import platform, lgpio, PIL._imaging, flashjig;"
        "print(platform.machine(), lgpio.__file__, flashjig.__file__)",
    ).stdout.split()  # fmt: skip
    assert found[0] == "aarch64"
    assert found[1] == "/usr/lib/python3/dist-packages/lgpio.py"  # Debian's place, as the Pi's
    assert found[2].startswith("/opt/flashjig/venv/lib/python3.11/site-packages/flashjig/")
    # The manual, made on this amd64 machine from the arm64 site-packages (the build that
    # failed when importing the command line loaded Pillow's aarch64 core).
    manual = gzip.decompress(pi.path("/usr/share/man/man1/flashjig.1.gz").read_bytes())
    assert b"flashjig \\- headless flashing station" in manual and b"flashjig demo" in manual


def test_the_pi5_sample_checks_out(pi):
    pi.run("mkdir", "-p", "/tmp/pi5")
    pi.run("cp", "/usr/share/doc/flashjig/examples/flashjig-pi5.yaml", "/tmp/pi5/")
    pi.run("flashjig", "firmware", "/tmp/pi5/firmware/demo.bin")
    checked = pi.run("flashjig", "check-config", "/tmp/pi5/flashjig-pi5.yaml")
    assert checked.stdout.strip() == "/tmp/pi5/flashjig-pi5.yaml: ok (5 sockets, profile demo)"


def test_the_demo_runs(pi):
    demo = pi.run("flashjig", "demo", "--fast")
    assert demo.stdout.count(": ok ") == 5, demo.stdout


def test_the_unit_verifies(pi):
    verified = pi.verify_unit()
    assert verified.returncode == 0, verified.stderr
