"""lgpio's notification FIFO goes to a writable directory of flashjig's, whatever directory a
command is run in (flashjig/cli/lgpio_workdir.py).

No lgpio here (no Pi): a stand-in module does at import what lgpio 0.2.2.0 does (read from
its lgpio.py and the C library in its wheel): the C side makes ``.lgd-nfyN`` in $LG_WD or
else the current directory (lguGetWorkDir(), lgNotify.c), handle -3 when it cannot; the
Python side opens ``.lgd-nfy{handle}`` relative to the current directory, and the import
fails when that is not there. The stand-in also writes down what it saw. The command is
``flashjig probe``, as an engineer runs it with sudo wherever the shell happens to be, with
gpiozero choosing its pin factory as on a Pi (lgpio first); it runs as nobody in a directory
nobody may not write (as root, CI: root writes anywhere)."""

import importlib
import importlib.util
import json
import os
import shutil
import stat
import sys
import tempfile
from pathlib import Path

import pytest
from helpers import in_a_child_as_nobody

from flashjig.cli import lgpio_workdir

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "daemon" / "flashjig" / "examples" / "flashjig.yaml"
NOBODY = 65534

STAND_IN = """\
import json, os

_wd = os.environ.get("LG_WD") or os.getcwd()  # lguGetWorkDir()
try:
    os.mkfifo(os.path.join(_wd, ".lgd-nfy0"), 0o664)  # lgNotify.c: "%s/.lgd-nfy%d"
    _notify = 0
except OSError:
    _notify = -3
_seen = {"LG_WD": os.environ.get("LG_WD"), "cwd": os.getcwd(), "notify": _notify}
try:
    # lgpio.py: open('.lgd-nfy{}'.format(self._notify), 'rb'), relative (non-blocking here:
    # no writer holds the FIFO's other end)
    os.close(os.open(".lgd-nfy{}".format(_notify), os.O_RDONLY | os.O_NONBLOCK))
    _seen["opened"] = True
finally:
    with open(os.environ["STAND_IN_RECORD"], "w") as _f:
        json.dump(_seen, _f)
"""


@pytest.fixture
def world():
    """Directories another user can reach (pytest's tmp_path is root's own): the stand-in
    lgpio, a read-only working directory, a temporary directory and a record for the
    command's user."""
    base = Path(tempfile.mkdtemp(prefix="flashjig-lgpio-test-"))
    base.chmod(0o755)
    (base / "site").mkdir(mode=0o755)
    (base / "site" / "lgpio.py").write_text(STAND_IN)
    (base / "site" / "lgpio.py").chmod(0o644)
    shutil.copy(SAMPLE, base / "flashjig.yaml")
    (base / "flashjig.yaml").chmod(0o644)
    for name in ("readonly", "tmp", "out", "run"):
        (base / name).mkdir(mode=0o755)
    if os.geteuid() == 0:
        for name in ("tmp", "out", "run"):
            os.chown(base / name, NOBODY, NOBODY)
    else:
        (base / "readonly").chmod(0o555)
    yield base
    (base / "readonly").chmod(0o755)
    shutil.rmtree(base)


def probe(world, **env):
    """`flashjig probe --yes` in world/readonly, in a forked child become nobody (as root;
    the venv's interpreter lies under /root, which nobody may not enter, so the child is this
    process, not a new one): the stand-in's record and the command's stderr."""
    # The child may not read /root (the interpreter's standard library): what it would import
    # late is imported here first.
    import encodings.utf_8_sig  # noqa: F401 - the config is read as utf-8-sig

    def run_probe() -> int:
        os.environ.clear()
        os.environ.update(
            PATH="/usr/bin:/bin",
            TMPDIR=str(world / "tmp"),
            STAND_IN_RECORD=str(world / "out" / "record.json"),
            **env,
        )
        tempfile.tempdir = None  # read TMPDIR again
        sys.path.insert(0, str(world / "site"))
        importlib.invalidate_caches()
        os.chdir(world / "readonly")
        from gpiozero import Device

        Device.pin_factory = None  # gpiozero's own choice, as on a Pi: lgpio first
        from flashjig.cli import main

        return main(["probe", "--yes", "--config", str(world / "flashjig.yaml")])

    child = in_a_child_as_nobody(run_probe)
    stderr, pid = child.stderr, child.pid
    record = world / "out" / "record.json"
    assert record.exists(), f"lgpio was never imported:\n{stderr}"
    return json.loads(record.read_text()), stderr, pid


def test_a_command_in_a_read_only_directory_gets_lgpio_a_writable_one(world):
    seen, stderr, pid = probe(world)
    uid = NOBODY if os.geteuid() == 0 else os.geteuid()
    mine = world / "tmp" / f"flashjig-lgpio-{uid}"
    own = mine / str(pid)  # the process's own: lgpio's FIFO is .lgd-nfy0 in every process
    assert seen == {"LG_WD": str(own), "cwd": str(own), "notify": 0, "opened": True}, stderr
    assert list((world / "readonly").iterdir()) == []  # nothing left where it was run
    assert stat.S_IMODE(mine.stat().st_mode) == stat.S_IMODE(own.stat().st_mode) == 0o700
    assert "escaped" not in stderr and ".lgd-nfy" not in stderr


def test_the_service_gets_its_runtime_directory(world):
    """systemd sets RUNTIME_DIRECTORY for RuntimeDirectory=flashjig: /run/flashjig."""
    seen, stderr, _ = probe(world, RUNTIME_DIRECTORY=str(world / "run"))
    run = str(world / "run")
    assert (seen["LG_WD"], seen["cwd"], seen.get("opened")) == (run, run, True), stderr
    assert list((world / "readonly").iterdir()) == []


def test_another_pin_factory_or_no_lgpio_touches_nothing(tmp_path, monkeypatch):
    """The simulation's mock factory, or no lgpio installed (not a Pi): no LG_WD, no
    directory, no import."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    env = {"GPIOZERO_PIN_FACTORY": "mock"}
    assert lgpio_workdir.prepare(env) is None
    assert env == {"GPIOZERO_PIN_FACTORY": "mock"}
    assert importlib.util.find_spec("lgpio") is None  # this machine: no lgpio
    env = {}
    assert lgpio_workdir.prepare(env) is None and env == {}
    assert list(tmp_path.iterdir()) == []


def test_a_given_lg_wd_is_kept_and_an_unwritable_one_is_not(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert lgpio_workdir.workdir({"LG_WD": str(tmp_path)}) == (tmp_path, False)
    own = tmp_path / f"flashjig-lgpio-{os.geteuid()}" / str(os.getpid())
    assert lgpio_workdir.workdir({"LG_WD": str(tmp_path / "absent")}) == (own, True)


def test_someone_elses_name_in_tmp_is_not_used(tmp_path, monkeypatch):
    """Anyone may make /tmp/flashjig-lgpio-UID first, as a symlink to where they like."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / f"flashjig-lgpio-{os.geteuid()}").symlink_to(elsewhere)
    chosen, own = lgpio_workdir.workdir({})
    assert own and chosen.parent == tmp_path and chosen.name.startswith("flashjig-lgpio-")
    assert not chosen.is_symlink() and list(elsewhere.iterdir()) == []
    assert stat.S_IMODE(chosen.stat().st_mode) == 0o700


def test_no_directory_to_be_had_changes_nothing(tmp_path, monkeypatch):
    """No writable temporary directory (a bare root): the command runs as it did before."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "absent"))
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: object())  # "installed"
    env: dict[str, str] = {}
    assert lgpio_workdir.prepare(env) is None and env == {}
    assert "lgpio" not in sys.modules
