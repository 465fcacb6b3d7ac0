"""What the packaging tests build slowly, made once and kept: a cache outside the checkout,
and the Debian package's build.

The cache is $FLASHJIG_TEST_CACHE if set, else /var/cache/flashjig-tests as root, else
$XDG_CACHE_HOME/flashjig-tests (~/.cache/flashjig-tests). Everything in it is made again
when missing: deleting it, or a machine that never had it (or cannot write it), costs time
only. Files are written under a temporary name and renamed, so an interrupted run leaves
nothing half made."""

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cache_dir() -> Path | None:
    """The cache directory, made if missing; None when it cannot be (then nothing is kept)."""
    given = os.environ.get("FLASHJIG_TEST_CACHE")
    if given:
        path = Path(given)
    elif os.geteuid() == 0:
        path = Path("/var/cache/flashjig-tests")
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        path = Path(base) / "flashjig-tests"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return path if os.access(path, os.W_OK) else None


@contextlib.contextmanager
def writing(target: Path) -> Iterator[Path]:
    """A temporary path beside target, renamed to target if the block succeeds."""
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    os.close(fd)
    temporary = Path(name)
    try:
        yield temporary
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def once_per_run(tmp_path_factory, what: str, make: Callable[[], Path]) -> Path:
    """The file ``make`` makes, made once per test run and kept (by its name) in a directory
    named ``what`` that every xdist worker of the run sees; a worker that needs it while
    another makes it waits for that one (an exclusive lock). Without xdist, in the run's own
    temporary directory."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    base = tmp_path_factory.getbasetemp()
    shared = (base.parent / f"shared-{run}" if run else base / "shared") / what
    shared.mkdir(parents=True, exist_ok=True)
    with open(shared.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        kept = [path for path in shared.iterdir() if not path.name.startswith(".")]
        if not kept:
            made = make()
            with writing(shared / made.name) as partial:
                shutil.copy(made, partial)
            kept = [shared / made.name]
    return kept[0]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def build_deb(*arch: str) -> Path:
    """./jig deb [ARCH], as a developer runs it: the package's path (in build/deb/, which
    each build empties first)."""
    built = subprocess.run(
        [str(ROOT / "jig"), "deb", *arch], capture_output=True, text=True, timeout=1800, cwd=ROOT
    )
    assert built.returncode == 0, built.stderr[-4000:]
    return ROOT / built.stdout.strip().splitlines()[-1]


# Top-level directories that `./jig deb` copies but that neither go into the package nor
# are read by its build: the tests, the benchmarks, the hardware notes, CI's script.
NOT_PACKAGING = ("tests/", "bench/", "hw/", ".ci/")
# The build's tools (debian/control's Build-Depends, with debhelper's dpkg-dev and dpkg,
# which writes the .deb): a new version of one may change the bytes it makes.
BUILD_TOOLS = (
    "dpkg",
    "dpkg-dev",
    "debhelper",
    "python3",
    "python3-minimal",
    "python3.11",
    "python3-pip",
    "python3-venv",
    "python3-argparse-manpage",
)


def packaging_inputs() -> str:
    """A digest of everything the Debian package's bytes are made from, found the way
    `./jig deb` finds them: each file git lists in the checkout (committed or not, minus
    what git ignores) that exists, outside NOT_PACKAGING, by path, executable bit and
    content; this covers debian/ (rules, maintainer scripts, the pins in
    debian/venv-requirements.txt, the changelog whose date clamps the mtimes),
    pyproject.toml, daemon/ (the package's sources), config/, systemd/, README.md and jig
    itself. Then the installed versions of the build tools, and the architecture. (The
    pinned wheels are fetched from the package index by their pins: covered by the pins.)"""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    digest = hashlib.sha256()
    for name in sorted(set(listed.split("\0"))):
        path = ROOT / name
        if not name or name.startswith(NOT_PACKAGING) or not path.is_file():
            continue
        executable = os.access(path, os.X_OK)
        digest.update(f"{name}\0{int(executable)}\0{sha256(path)}\n".encode())
    tools = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Package} ${Version} ${Status}\n", *BUILD_TOOLS],
        capture_output=True,
        text=True,
    ).stdout
    arch = subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout
    digest.update(f"{tools}\n{arch}".encode())
    return digest.hexdigest()
