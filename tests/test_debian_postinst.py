"""debian/flashjig.postinst applies the udev rules to the adapters plugged in already, where
udev runs, and never fails an install over it. The script runs here in a stub world: its
absolute paths point into tmp_path, udevadm and deb-systemd-helper are stand-ins that record
what they are asked."""

import os
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
POSTINST = ROOT / "debian" / "flashjig.postinst"
RULES = ROOT / "systemd" / "99-flashjig.rules"


def stub(path: Path, body: str) -> None:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def run_postinst(tmp_path, *, udev=True, udevadm_fails=False, env=None):
    """Run the postinst's configure; the udevadm calls it made, one argument list each."""
    run = tmp_path / "run"
    (run / "udev" if udev else run).mkdir(parents=True, exist_ok=True)
    script = POSTINST.read_text()
    script = script.replace("/run/udev", str(run / "udev"))
    script = script.replace("/run/systemd/system", str(run / "systemd" / "system"))  # no systemd
    script = script.replace("/opt/flashjig/venv/bin/python3", "true")
    path = tmp_path / "postinst"
    path.write_text(script)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    log = tmp_path / "udevadm.log"
    stub(bin_dir / "udevadm", f'echo "$*" >> {log}\nexit {1 if udevadm_fails else 0}')
    stub(bin_dir / "deb-systemd-helper", "exit 1")
    done = subprocess.run(
        ["sh", str(path), "configure", ""],
        capture_output=True,
        text=True,
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", **(env or {})},
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return [line.split() for line in log.read_text().splitlines()] if log.exists() else []


def rules_subsystems() -> dict[str, set[str]]:
    """Each SUBSYSTEM the shipped rules match -> the ACTIONs they are limited to ("" for
    any)."""
    found: dict[str, set[str]] = {}
    for line in RULES.read_text().splitlines():
        if line.startswith("#") or not (subsystem := re.search(r'SUBSYSTEM=="([^"]+)"', line)):
            continue
        action = re.search(r'ACTION=="([^"]+)"', line)
        found.setdefault(subsystem.group(1), set()).add(action.group(1) if action else "")
    return found


def triggered(calls) -> dict[str, str]:
    """subsystem -> the action a `udevadm trigger` gave it."""
    out = {}
    for call in calls:
        if call[0] == "trigger":
            action = next(a.split("=", 1)[1] for a in call if a.startswith("--action="))
            for a in call:
                if a.startswith("--subsystem-match="):
                    out[a.split("=", 1)[1]] = action
    return out


def test_the_rules_reach_the_devices_plugged_in_at_install(tmp_path):
    calls = run_postinst(tmp_path)
    assert calls, "udevadm never ran"
    assert calls[0] == ["control", "--reload"]  # the new rules before the events
    assert calls[-1][0] == "settle"  # the symlinks are there before the service restarts
    actions = triggered(calls)
    wanted = rules_subsystems()
    assert set(wanted) == {"tty", "usb-serial", "gpio"}
    for subsystem, rule_actions in wanted.items():
        assert subsystem in actions, f"no trigger for {subsystem}"
        # A rule limited to ACTION=="add" sees only an "add"; others take a "change".
        assert rule_actions <= {"", actions[subsystem]}, subsystem
    # Nothing beyond what the rules match: a blanket trigger replays every device's add.
    for call in calls:
        if call[0] == "trigger":
            assert any(a.startswith("--subsystem-match=") for a in call), call


def test_no_udev_no_trigger(tmp_path):
    """A chroot or an image build: no udevd, no /run/udev."""
    assert run_postinst(tmp_path, udev=False) == []


def test_no_trigger_under_dpkg_root(tmp_path):
    assert run_postinst(tmp_path, env={"DPKG_ROOT": str(tmp_path / "root")}) == []


def test_a_refused_trigger_does_not_fail_the_install(tmp_path):
    """In a container /run/udev may be there and /sys read-only: udevadm fails."""
    calls = run_postinst(tmp_path, udevadm_fails=True)
    assert [c[0] for c in calls] == ["control", "trigger", "trigger", "settle"]


def test_the_script_is_posix_sh():
    assert subprocess.run(["sh", "-n", str(POSTINST)]).returncode == 0
    if os.path.exists("/usr/bin/checkbashisms"):
        assert subprocess.run(["checkbashisms", str(POSTINST)]).returncode == 0
