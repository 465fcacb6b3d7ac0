"""systemd/install.sh: an install into a root directory (and again, over an edited config),
and its usage."""

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


UNIT = ROOT / "systemd" / "flashjig.service"


INSTALL = ROOT / "systemd" / "install.sh"


needs_systemd_tools = pytest.mark.skipif(
    shutil.which("systemd-sysusers") is None or shutil.which("systemctl") is None,
    reason="systemd-sysusers/systemctl not installed",
)


def install(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(INSTALL), *args], capture_output=True, text=True)


def members(group_file: Path, group: str) -> list[str]:
    for line in group_file.read_text().splitlines():
        name, _, _, users = line.split(":")
        if name == group:
            return users.split(",") if users else []
    raise AssertionError(f"no group {group} in {group_file}")


@needs_systemd_tools
def test_install_into_root(tmp_path):
    result = install("--root", str(tmp_path), "--no-venv")
    assert result.returncode == 0, result.stderr

    system = tmp_path / "etc" / "systemd" / "system"
    assert (system / "flashjig.service").read_text() == UNIT.read_text()
    link = system / "multi-user.target.wants" / "flashjig.service"
    assert link.is_symlink()
    assert os.readlink(link) == "/etc/systemd/system/flashjig.service"
    assert not (tmp_path / "opt").exists()

    (user,) = [
        line.split(":")
        for line in (tmp_path / "etc" / "passwd").read_text().splitlines()
        if line.startswith("flashjig:")
    ]
    assert user[5] == "/var/lib/flashjig"
    group = tmp_path / "etc" / "group"
    assert members(group, "gpio") == ["flashjig"]
    assert members(group, "dialout") == ["flashjig"]

    config = tmp_path / "etc" / "flashjig" / "flashjig.yaml"
    assert config.read_text() == (ROOT / "config" / "flashjig.yaml").read_text()
    rules = ROOT / "systemd" / "99-flashjig.rules"
    assert (tmp_path / "etc" / "udev" / "rules.d" / rules.name).exists() == rules.exists()

    # Again, over an operator's edited config: everything stays, nothing doubles.
    config.write_text("# edited on the jig\n")
    passwd = (tmp_path / "etc" / "passwd").read_text()
    result = install("--root", str(tmp_path), "--no-venv")
    assert result.returncode == 0, result.stderr
    assert config.read_text() == "# edited on the jig\n"
    assert (tmp_path / "etc" / "passwd").read_text() == passwd
    assert members(group, "gpio") == ["flashjig"]
    assert link.is_symlink()


def test_install_usage():
    result = install("--help")
    assert result.returncode == 0
    assert result.stdout.startswith("Usage: systemd/install.sh [--root DIR] [--no-venv]")
    result = install("--frobnicate")
    assert result.returncode == 2
    assert result.stderr == "install.sh: unknown argument: --frobnicate (see --help)\n"
    result = install("--root", "/nonexistent/flashjig-root", "--no-venv")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert "no such directory" in result.stderr


def test_install_script_is_executable():
    assert INSTALL.stat().st_mode & stat.S_IXUSR
