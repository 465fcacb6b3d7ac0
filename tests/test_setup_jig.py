"""./jig, the README's two commands: either order gives the same venv. The venv's pip and
pkg-config are stand-ins that record what jig asked of them (installing for real is what
every other test's .venv already shows)."""

import os
import shutil
import stat
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def test_a_venv_made_before_libsystemd_is_rebuilt_with_journald_support(tmp_path):
    """`./jig demo` on a fresh machine makes the venv before `./jig test` installs
    libsystemd-dev; the next run must install the systemd extra, not keep the old venv."""
    tree = tmp_path / "tree"
    (tree / "config" / "firmware").mkdir(parents=True)
    (tree / "config" / "firmware" / "demo.bin").write_bytes(b"")
    shutil.copy(ROOT / "jig", tree / "jig")
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    bin_dir = tree / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    calls = tmp_path / "calls"
    executable(bin_dir / "python", "#!/bin/sh\n")
    executable(bin_dir / "pip", f'#!/bin/sh\necho "$*" >>{calls}\n')
    executable(bin_dir / "flashjig", "#!/bin/sh\n")
    tools = tmp_path / "tools"
    tools.mkdir()
    has_libsystemd = tmp_path / "has-libsystemd"
    executable(tools / "pkg-config", f"#!/bin/sh\ntest -e {has_libsystemd}\n")
    env = {**os.environ, "PATH": f"{tools}:{os.environ['PATH']}"}

    def jig() -> list[str]:
        calls.unlink(missing_ok=True)
        subprocess.run([str(tree / "jig"), "--help"], env=env, check=True, timeout=30)
        return calls.read_text().splitlines() if calls.exists() else []

    assert any(c.endswith("-e .[test]") for c in jig())  # no libsystemd yet
    assert jig() == []  # nothing changed: nothing installed
    has_libsystemd.touch()  # ./jig test installed libsystemd-dev
    assert any(c.endswith("-e .[test,systemd]") for c in jig())
    assert jig() == []
