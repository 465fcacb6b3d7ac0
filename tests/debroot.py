"""Fresh Debian Bookworm roots to install the package in: bootstrapped by mmdebstrap once per
architecture and kept as a tarball (buildcache.cache_dir), unpacked per test module, and run
in with chroot in a network namespace of their own. An arm64 root runs on an amd64 machine
through qemu-user (binfmt_misc; `./jig test` sets it up). Root is needed throughout."""

import contextlib
import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from buildcache import cache_dir, writing

# What a Bookworm machine has that the package depends on (debian/control).
BASE_PACKAGES = "python3,python3-systemd,systemd,init-system-helpers,procps"


def host_arch() -> str:
    return subprocess.run(
        ["dpkg", "--print-architecture"], capture_output=True, text=True, check=True
    ).stdout.strip()


def runs_here(arch: str) -> bool:
    """Whether this machine runs ``arch``'s programs: its own, or through binfmt_misc."""
    return arch == host_arch() or Path(f"/proc/sys/fs/binfmt_misc/qemu-{_QEMU[arch]}").exists()


_QEMU = {"amd64": "x86_64", "arm64": "aarch64"}


def bookworm_tarball(arch: str, scratch: Path) -> Path:
    """The minimal Bookworm root for ``arch`` as a tarball, bootstrapped from the network
    once and kept in the cache, named by what it is made of: a change to BASE_PACKAGES (or
    the suite, variant or architecture) makes a new one. Delete it to take Bookworm's
    updates. Without a cache it is made in ``scratch``."""
    how = ["--variant=apt", f"--architectures={arch}", f"--include={BASE_PACKAGES}", "bookworm"]
    key = hashlib.sha256("\0".join(how).encode()).hexdigest()[:16]
    tarball = (cache_dir() or scratch) / f"bookworm-{key}.tar"
    if not tarball.exists():
        with writing(tarball) as partial:
            # mmdebstrap picks the format from the name: give it one ending in .tar.
            made_tar = partial.with_name(partial.name + ".tar")
            try:
                made = subprocess.run(
                    ["mmdebstrap", *how, str(made_tar)],
                    capture_output=True,
                    text=True,
                    timeout=1800,
                )
                assert made.returncode == 0, made.stderr[-4000:]
                os.replace(made_tar, partial)
            finally:
                made_tar.unlink(missing_ok=True)
    return tarball


def unpack(tarball: Path, root: Path) -> Path:
    root.mkdir(parents=True)
    subprocess.run(
        ["tar", "--numeric-owner", "--xattrs", "--xattrs-include=*", "-xpf"]
        + [str(tarball), "-C", str(root)],
        check=True,
    )
    return root


@contextlib.contextmanager
def mounted(root: Path) -> Iterator[None]:
    """/proc (systemd-tmpfiles), /dev and /dev/pts (the demo's emulated modules) inside."""
    done: list[Path] = []
    try:
        for source, target, how in (
            ("proc", root / "proc", ["-t", "proc"]),
            ("/dev", root / "dev", ["--bind"]),
            ("/dev/pts", root / "dev" / "pts", ["--bind"]),
        ):
            subprocess.run(["mount", *how, source, str(target)], check=True)
            done.append(target)
        yield
    finally:
        for target in reversed(done):
            subprocess.run(["umount", str(target)], check=True)


class Machine:
    """A Bookworm root with the package at hand, and a way to run in it (in a network
    namespace of its own: loopback only, so nothing can be fetched)."""

    def __init__(self, root: Path, deb: Path, timeout: float = 300) -> None:
        self.root = root
        self.host_deb = deb
        self.deb = self.put(deb)
        self.timeout = timeout

    def put(self, file: Path) -> Path:
        """Copy a file of this machine's into the root's /tmp: its path inside."""
        inside = Path("/tmp") / file.name
        shutil.copy(file, self.path(str(inside)))
        return inside

    def run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        with mounted(self.root):
            done = subprocess.run(
                ["unshare", "--net", "chroot", str(self.root), *command],
                capture_output=True,
                text=True,
                timeout=self.timeout,
                env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"},
            )
        if check:
            assert done.returncode == 0, f"{command}: {done.stdout}{done.stderr}"
        return done

    def path(self, inside: str) -> Path:
        return self.root / inside.lstrip("/")

    def verify_unit(self) -> subprocess.CompletedProcess:
        """This machine's `systemd-analyze verify` of the installed unit (run from outside:
        it reads the root's files, whatever their architecture)."""
        return subprocess.run(
            ["systemd-analyze", f"--root={self.root}", "verify", "flashjig.service"],
            capture_output=True,
            text=True,
            env={**os.environ, "SYSTEMD_COLORS": "0", "SYSTEMD_PAGER": ""},
        )

    def version(self) -> str:
        return self.run("dpkg-query", "-W", "-f", "${Version}", "flashjig").stdout
