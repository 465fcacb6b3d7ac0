"""systemd/install.sh: a thin wrapper that builds the Debian package and installs it with
apt (what the package does is tests/test_debian_package.py's); its usage."""

import stat
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INSTALL = ROOT / "systemd" / "install.sh"


def install(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(INSTALL), *args], capture_output=True, text=True)


def test_install_usage():
    result = install("--help")
    assert result.returncode == 0
    assert result.stdout.startswith("Usage: systemd/install.sh\n")
    assert "./jig deb && sudo apt install ./build/deb/flashjig_" in result.stdout
    result = install("--root", "/x")
    assert result.returncode == 2
    assert result.stderr == "install.sh: unknown argument: --root (see --help)\n"


def test_install_script_is_executable():
    assert INSTALL.stat().st_mode & stat.S_IXUSR
