"""The Debian package (`./jig deb`), built once per run (conftest's `package`) and installed
with dpkg into a fresh Debian Bookworm root (mmdebstrap, holding only what the package
depends on; bootstrapped once and kept, see debroot): its files, its conffile, its
unit, its maintainer scripts (install, upgrade over an edited config, remove, purge) and the
installed `flashjig demo --fast`, with no network; and the preinst's wait
for a flash in progress, on a simulated station. Root is needed to build the root, to
chroot into it and to mount."""

import gzip
import os
import subprocess
import sys
from pathlib import Path

import pytest
from debroot import Machine, bookworm_tarball, host_arch, unpack
from helpers import flashing_socket1

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="building and installing a package needs root"),
]


@pytest.fixture(scope="session")  # once per run, whatever else the worker runs between
def bookworm(tmp_path_factory) -> Path:
    """A minimal Bookworm root of this machine's architecture, unpacked once from the kept
    tarball and copied for each test."""
    scratch = tmp_path_factory.mktemp("bookworm")
    return unpack(bookworm_tarball(host_arch(), scratch), scratch / "root")


@pytest.fixture
def machine(bookworm, package, tmp_path) -> Machine:
    root = tmp_path / "root"
    subprocess.run(["cp", "-a", str(bookworm), str(root)], check=True)
    return Machine(root, package)


def rebuilt(deb: Path, version: str, conffile_line: str, into: Path) -> Path:
    """The same package as a later version whose sample config changed: what an upgrade
    brings, for the maintainer scripts and dpkg's conffile handling."""
    tree = into / "tree"
    subprocess.run(["dpkg-deb", "-R", str(deb), str(tree)], check=True)
    control = tree / "DEBIAN" / "control"
    control.write_text(control.read_text().replace("Version: 0.1.0", f"Version: {version}"))
    config = tree / "etc" / "flashjig" / "flashjig.yaml"
    config.write_text(config.read_text() + conffile_line)
    # md5sums must match the changed config, or dpkg --verify (and debsums) would complain.
    md5sums = tree / "DEBIAN" / "md5sums"
    digest = subprocess.run(
        ["md5sum", "etc/flashjig/flashjig.yaml"], cwd=tree, capture_output=True, text=True
    ).stdout
    lines = [line for line in md5sums.read_text().splitlines() if "etc/flashjig/" not in line]
    md5sums.write_text("\n".join([*lines, digest.strip()]) + "\n")
    later = into / f"flashjig_{version}_amd64.deb"
    # gzip at its fastest, not dpkg-deb's xz (40 s for the venv): dpkg unpacks either alike.
    fast = ["-Zgzip", "-z1"]
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", *fast, "-b", str(tree), str(later)], check=True
    )
    return later


def test_install_puts_everything_in_place_and_needs_no_network(machine):
    machine.run("apt-get", "install", "-y", str(machine.deb))
    assert machine.version() == "0.1.0"
    command = machine.path("/usr/bin/flashjig")
    assert os.readlink(command) == "/opt/flashjig/venv/bin/flashjig"
    unit = machine.path("/lib/systemd/system/flashjig.service")
    assert unit.read_text() == (ROOT / "systemd" / "flashjig.service").read_text()
    wanted = machine.path("/etc/systemd/system/multi-user.target.wants/flashjig.service")
    assert os.readlink(wanted) == "/lib/systemd/system/flashjig.service"  # enabled
    rules = machine.path("/usr/lib/udev/rules.d/99-flashjig.rules")
    assert rules.read_text() == (ROOT / "systemd" / "99-flashjig.rules").read_text()
    assert machine.path("/usr/lib/sysusers.d/flashjig.conf").exists()
    conffiles = machine.path("/var/lib/dpkg/info/flashjig.conffiles").read_text().split()
    assert conffiles == ["/etc/flashjig/flashjig.yaml"]
    assert (
        machine.path("/etc/flashjig/flashjig.yaml").read_text()
        == (ROOT / "config" / "flashjig.yaml").read_text()
    )
    # The service user, in the groups of the GPIO chips and the USB-serial adapters.
    passwd = machine.path("/etc/passwd").read_text()
    assert any(line.startswith("flashjig:") for line in passwd.splitlines())
    groups = {
        line.split(":")[0]: line.split(":")[3]
        for line in machine.path("/etc/group").read_text().splitlines()
    }
    for group in ("gpio", "dialout", "lp"):  # GPIO chips, USB-serial adapters, label printer
        assert "flashjig" in groups[group].split(","), group
    state = machine.run("stat", "-c", "%a %U %G", "/var/lib/flashjig").stdout.split()
    assert state == ["750", "flashjig", "flashjig"]
    # The venv's own packages first, Debian's (systemd's bindings) through the system's.
    found = machine.run(
        "/opt/flashjig/venv/bin/python3",
        "-I",
        "-c",
        "import gpiozero, systemd.journal; print(gpiozero.__file__, systemd.journal.__file__)",
    ).stdout.split()
    assert found[0].startswith("/opt/flashjig/venv/lib/python3.11/site-packages/gpiozero/")
    assert found[1].startswith("/usr/lib/python3/dist-packages/systemd/")
    # Byte-compiled by the postinst: the service starts without compiling as it goes.
    assert list(machine.path("/opt/flashjig/venv/lib").rglob("flashjig/__pycache__/*.pyc"))
    manual = gzip.decompress(machine.path("/usr/share/man/man1/flashjig.1.gz").read_bytes())
    assert b"flashjig \\- headless flashing station" in manual
    for command_name in (b"demo", b"run", b"check-config", b"ctl"):
        assert b"flashjig " + command_name in manual


def test_installed_demo_runs_with_no_network(machine):
    machine.run("dpkg", "-i", str(machine.deb))
    demo = machine.run("flashjig", "demo", "--fast")
    assert demo.stdout.count(": ok ") == 5, demo.stdout
    # The sample config is not ready for a real station (no images yet): check-config says so.
    checked = machine.run("flashjig", "check-config", check=False)
    assert checked.returncode == 2 and "image file not found" in checked.stdout


def test_installed_unit_verifies(machine):
    machine.run("dpkg", "-i", str(machine.deb))
    verified = machine.verify_unit()
    assert verified.returncode == 0, verified.stderr


def test_upgrade_keeps_the_edited_config_and_the_state(machine, tmp_path):
    """An upgrade whose sample config changed: dpkg keeps the station's edited one (and
    puts the new sample beside it), and the journal is untouched."""
    machine.run("dpkg", "-i", str(machine.deb))
    config = machine.path("/etc/flashjig/flashjig.yaml")
    edited = config.read_text() + "# this station's own edit\n"
    config.write_text(edited)
    journal = machine.path("/var/lib/flashjig/journal.sqlite3")
    journal.write_bytes(b"the journal, backups and serial counters live here")
    later = rebuilt(machine.host_deb, "0.1.1", "# a newer sample\n", tmp_path)
    upgrade = machine.run(
        "dpkg", "--force-confdef", "--force-confold", "-i", str(machine.put(later))
    )
    assert machine.version() == "0.1.1"
    assert config.read_text() == edited
    assert "# a newer sample" in machine.path("/etc/flashjig/flashjig.yaml.dpkg-dist").read_text()
    assert "Keeping old config file" in upgrade.stderr  # dpkg said so, as it does
    assert journal.read_bytes() == b"the journal, backups and serial counters live here"
    assert list(machine.path("/opt/flashjig/venv/lib").rglob("flashjig/__pycache__/*.pyc"))


def test_remove_keeps_config_and_state_and_purge_removes_them(machine):
    machine.run("dpkg", "-i", str(machine.deb))
    machine.path("/var/lib/flashjig/journal.sqlite3").write_bytes(b"journal")
    machine.path("/etc/flashjig/firmware").mkdir()
    machine.run("dpkg", "-r", "flashjig")
    assert not machine.path("/opt/flashjig").exists()  # byte-code included
    assert not machine.path("/usr/bin/flashjig").exists()
    assert machine.path("/etc/flashjig/flashjig.yaml").exists()
    assert machine.path("/var/lib/flashjig/journal.sqlite3").read_bytes() == b"journal"
    machine.run("dpkg", "-P", "flashjig")
    assert not machine.path("/etc/flashjig").exists()
    assert not machine.path("/var/lib/flashjig").exists()
    wanted = machine.path("/etc/systemd/system/multi-user.target.wants/flashjig.service")
    assert not wanted.is_symlink()


# -- the upgrade and a flash in progress (debian/flashjig.preinst, on a simulated station) --


def run_preinst(daemon, tmp_path, *args: str, drain_timeout: str = "60"):
    """debian/flashjig.preinst as dpkg runs it, in a mount namespace where systemd seems to
    run (/run/systemd/system), with `flashjig` pointing at the simulated station and
    systemctl and deb-systemd-invoke recording what they were asked."""
    tools = tmp_path / "tools"
    tools.mkdir(exist_ok=True)
    calls = tmp_path / "calls"
    for name in ("systemctl", "deb-systemd-invoke"):
        script = tools / name
        script.write_text(f'#!/bin/sh\necho "{name} $*" >>{calls}\n')
        script.chmod(0o755)
    wrapper = tools / "flashjig"
    wrapper.write_text(
        f'#!/bin/sh\nexec {sys.executable} -m flashjig "$@" {" ".join(daemon.common)}\n'
    )
    wrapper.chmod(0o755)
    seem_systemd = 'mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/system && exec sh "$0" "$@"'
    done = subprocess.run(
        [
            "unshare",
            "--mount",
            "sh",
            "-c",
            seem_systemd,
            str(ROOT / "debian" / "flashjig.preinst"),
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env={
            **os.environ,
            "PATH": f"{tools}:{os.environ['PATH']}",
            "FLASHJIG_DRAIN_TIMEOUT_S": drain_timeout,
        },
    )
    return done, calls.read_text().splitlines() if calls.exists() else []


def test_the_built_preinst_drains_before_debhelper_stops_the_service(package, tmp_path):
    subprocess.run(["dpkg-deb", "-e", str(package), str(tmp_path / "control")], check=True)
    preinst = (tmp_path / "control" / "preinst").read_text()
    assert 0 < preinst.index("ctl drain") < preinst.index("deb-systemd-invoke stop")
    prerm = (tmp_path / "control" / "prerm").read_text()
    assert "deb-systemd-invoke stop flashjig.service" in prerm  # on remove


def test_an_upgrade_waits_for_the_flash_in_progress(start_daemon, tmp_path):
    daemon = flashing_socket1(start_daemon("--line-rate"))
    done, calls = run_preinst(daemon, tmp_path, "upgrade", "0.1.0")
    assert done.returncode == 0, done.stderr
    assert daemon.sockets()["socket1"]["state"] == "ok"  # finished, not cut short
    assert daemon.sockets()["socket2"]["state"] == "inserted"  # and nothing new started
    assert calls == ["systemctl is-active --quiet flashjig.service"]
    assert "letting the flashes in progress finish" in done.stderr


def test_an_upgrade_is_refused_while_a_flash_outlasts_the_wait(start_daemon, tmp_path):
    daemon = flashing_socket1(start_daemon("--line-rate"))
    done, _ = run_preinst(daemon, tmp_path, "upgrade", "0.1.0", drain_timeout="0.5")
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1].startswith(
        "flashjig: a module is still being flashed; not upgrading now."
    )
    assert daemon.ask("status")["status"]["accepting"]  # the station goes on


def test_a_first_install_asks_nothing_of_a_station(tmp_path, start_daemon):
    daemon = start_daemon()
    done, calls = run_preinst(daemon, tmp_path, "install")
    assert done.returncode == 0 and calls == []


def test_the_service_starts_only_once_its_config_checks_out(machine):
    """Under systemd (here: its /run/systemd/system, and deb-systemd-invoke recording what
    it is asked), the install enables the service but starts it only when check-config
    passes: not with the sample's missing image, which it names; then after the image is
    there, on the next configure."""
    (machine.path("/run/systemd/system")).mkdir(parents=True)
    invoked = machine.path("/tmp/invoked")
    stub = machine.path("/usr/bin/deb-systemd-invoke")
    stub.write_text('#!/bin/sh\necho "$*" >>/tmp/invoked\n')
    first = machine.run("dpkg", "-i", str(machine.deb))
    assert "installed and enabled, not started" in first.stderr
    assert "image file not found: /etc/flashjig/firmware/demo.bin" in first.stderr
    assert not invoked.exists() or "restart" not in invoked.read_text()
    machine.run("flashjig", "firmware", "/etc/flashjig/firmware/demo.bin")
    machine.run("flashjig", "check-config")
    machine.run("dpkg", "-i", str(machine.deb))  # configured again, as an upgrade would be
    assert "restart flashjig.service" in invoked.read_text().splitlines()
