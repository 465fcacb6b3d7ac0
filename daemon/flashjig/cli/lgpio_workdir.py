"""Where lgpio keeps its notification FIFO, chosen for every command before lgpio is
imported.

lgpio (0.2.2.0: Raspberry Pi OS's python3-lgpio and the wheel on PyPI) makes the FIFO
``.lgd-nfyN`` in ``lguGetWorkDir()``: ``$LG_WD`` if set, else the current directory
(lgUtil.c; the path is built in lgNotify.c as "%s/.lgd-nfy%d"). lgpio.py then opens it at
import time (``_notify_thread = _callback_thread()``) by the relative name
``open('.lgd-nfy{}'.format(handle), 'rb')``, in whatever the current directory is. So
``sudo flashjig probe`` run in a read-only directory failed at ``import lgpio``, and run in
a writable one left ``.lgd-nfy*`` there; and ``LG_WD`` alone would make the two halves look
in different places. Hence: LG_WD names a writable directory, and lgpio is imported once,
with that directory as the current one, before the command does anything else (no thread
runs yet, and the command's relative paths still mean the caller's directory afterwards).

The directory: ``$LG_WD`` if it is set and writable; for the service, its runtime directory
(``$RUNTIME_DIRECTORY``, /run/flashjig, from the unit's RuntimeDirectory=); else one of this
process's own in a per-user directory of the temporary directory,
``flashjig-lgpio-UID/PID``, removed at exit. Of its own: lgpio names the FIFO by its handle
(``.lgd-nfy0`` in every process) and opens one that exists (lgNotifyOpenWithSize() in
lgNotify.c: xCreatePipe(), then open(O_RDWR)), so two commands sharing a directory would
share a FIFO and read each other's GPIO events.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator, MutableMapping
from pathlib import Path

ENV = "LG_WD"


def _writable_dir(path: str) -> bool:
    return os.path.isdir(path) and os.access(path, os.W_OK | os.X_OK)


def _own_private_dir(path: Path) -> bool:
    """Is path a real directory (not a symlink) of this user's that nobody else may write?
    Anyone can make a name in /tmp first."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return (
        stat.S_ISDIR(st.st_mode)
        and st.st_uid == os.geteuid()
        and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    )


def workdir(environ: MutableMapping[str, str] = os.environ) -> tuple[Path, bool]:
    """The directory for lgpio's FIFO, made if need be, and whether it is this process's
    own (to remove at exit)."""
    given = environ.get(ENV, "")
    if given and _writable_dir(given):
        return Path(given), False
    runtime = environ.get("RUNTIME_DIRECTORY", "").split(":")[0]  # systemd joins several by ":"
    if runtime and _writable_dir(runtime):
        return Path(runtime), False
    mine = Path(tempfile.gettempdir()) / f"flashjig-lgpio-{os.geteuid()}"
    with contextlib.suppress(FileExistsError):
        os.mkdir(mine, 0o700)
    if not _own_private_dir(mine):  # someone else's name: a new one
        return Path(tempfile.mkdtemp(prefix="flashjig-lgpio-")), True
    own = mine / str(os.getpid())
    own.mkdir(mode=0o700, exist_ok=True)  # a dead process's of the same pid: reused
    return own, True


@contextlib.contextmanager
def _inside(directory: Path) -> Iterator[None]:
    """The current directory is directory for the block, then the caller's again (even one
    it may not read: an O_PATH descriptor needs no permission)."""
    back = os.open(".", os.O_PATH | os.O_DIRECTORY)
    try:
        os.chdir(directory)
        try:
            yield
        finally:
            os.fchdir(back)
    finally:
        os.close(back)


def prepare(environ: MutableMapping[str, str] = os.environ) -> Path | None:
    """If this process would use lgpio (gpiozero's lgpio factory, the default, as in
    flashjig.hardware.pi; and lgpio installed: a Pi), set LG_WD for it and import lgpio in
    that directory; the directory, or None where lgpio is not used (nothing is touched).
    Importing is all this does: an import that fails is left to the code that needs lgpio
    to report, as before."""
    if environ.get("GPIOZERO_PIN_FACTORY", "lgpio") != "lgpio" or "lgpio" in sys.modules:
        return None
    try:
        if importlib.util.find_spec("lgpio") is None:
            return None
    except (ImportError, ValueError):
        return None
    try:
        directory, own = workdir(environ)
    except OSError:  # no temporary directory to be had: lgpio finds its own way, as before
        return None
    environ[ENV] = str(directory)
    if own:  # registered before lgpio's own exit handler, so run after it
        atexit.register(shutil.rmtree, directory, ignore_errors=True)
    with _inside(directory), contextlib.suppress(Exception):
        import lgpio  # noqa: F401 - for its notification FIFO, made at import
    return directory
