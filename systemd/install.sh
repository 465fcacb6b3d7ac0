#!/usr/bin/env bash
# Install flashjig from this checkout as a systemd service. Safe to run again (updates).
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: systemd/install.sh [--root DIR] [--no-venv]

Install flashjig from this checkout as a systemd service on a Raspberry Pi.

  --root DIR   install into the filesystem tree at DIR instead of / (an image being
               built, or a test). Only with / is systemd reloaded and the service
               (re)started.
  --no-venv    do not create DIR/opt/flashjig/venv or pip-install flashjig into it
  -h, --help   show this help

Steps: venv at DIR/opt/flashjig/venv with flashjig[pi]; the unit in DIR/etc/systemd/system/;
the service user from DIR/usr/lib/sysusers.d/flashjig.conf (systemd-sysusers); the sample
config to DIR/etc/flashjig/flashjig.yaml unless one is already there (an existing config
is never touched); udev rules from systemd/99-flashjig.rules when the checkout has them;
then the service is enabled. A venv is not relocatable: its scripts name DIR/opt/...,
so build it with --root only when DIR will be mounted at / later.
EOF
}

die() {
  echo "install.sh: $*" >&2
  exit 1
}

args=("$@")
root=/
venv=1
while [ $# -gt 0 ]; do
  case "$1" in
    --root)
      [ $# -ge 2 ] && [ -n "$2" ] || die "--root needs a directory"
      root=$2
      shift 2
      ;;
    --root=*)
      root=${1#--root=}
      [ -n "$root" ] || die "--root needs a directory"
      shift
      ;;
    --no-venv)
      venv=0
      shift
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    *)
      echo "install.sh: unknown argument: $1 (see --help)" >&2
      exit 2
      ;;
  esac
done

checkout=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ -d "$root" ] || die "--root $root: no such directory"
root=$(cd "$root" && pwd)
# Paths below are "$root$path"; with root / that would give //etc/..., harmless but ugly.
prefix=${root%/}
live=0
[ "$root" = / ] && live=1

for tool in systemd-sysusers systemctl; do
  command -v "$tool" >/dev/null || die "$tool not found (is this a systemd system?)"
done
if [ "$live" = 1 ] && [ "$(id -u)" -ne 0 ]; then
  die "installing onto / needs root: sudo $0 ${args[*]}"
fi

step() { echo "install.sh: $*" >&2; }

if [ "$venv" = 1 ]; then
  venv_dir=$prefix/opt/flashjig/venv
  if [ ! -x "$venv_dir/bin/python" ]; then
    step "creating $venv_dir"
    python3 -m venv "$venv_dir" ||
      die "could not create $venv_dir (on Debian: apt-get install python3-venv)"
  fi
  step "installing flashjig[pi] from $checkout into $venv_dir"
  # A copy, not an editable install: the service must not depend on this checkout.
  "$venv_dir/bin/pip" install --quiet --upgrade "$checkout[pi]" ||
    die "pip install of $checkout[pi] into $venv_dir failed"
fi

step "installing the unit and the service user"
install -D -m 0644 "$checkout/systemd/flashjig.service" \
  "$prefix/etc/systemd/system/flashjig.service"
install -D -m 0644 "$checkout/systemd/flashjig.sysusers" \
  "$prefix/usr/lib/sysusers.d/flashjig.conf"
# systemd-sysusers only edits an existing /etc; a fresh --root tree may not have one.
mkdir -p "$prefix/etc"
systemd-sysusers --root "$root" flashjig.conf ||
  die "systemd-sysusers could not create the flashjig user in $root/etc/passwd"

config=$prefix/etc/flashjig/flashjig.yaml
if [ -e "$config" ]; then
  step "keeping the existing $config"
else
  sample=$checkout/config/flashjig.yaml
  # A Pi 5 names its USB ports differently from a Pi 4 (config/flashjig-pi5.yaml).
  if grep -qs "Raspberry Pi 5" /proc/device-tree/model; then
    sample=$checkout/config/flashjig-pi5.yaml
  fi
  step "installing the sample config $(basename "$sample") as $config"
  install -D -m 0644 "$sample" "$config"
fi

rules=$checkout/systemd/99-flashjig.rules
if [ -f "$rules" ]; then
  step "installing udev rules"
  install -D -m 0644 "$rules" "$prefix/etc/udev/rules.d/99-flashjig.rules"
fi

step "enabling flashjig.service"
systemctl --root "$root" enable flashjig.service ||
  die "systemctl could not enable flashjig.service in $root"

if [ "$live" = 1 ]; then
  systemctl daemon-reload || die "systemctl daemon-reload failed"
  if command -v udevadm >/dev/null; then
    udevadm control --reload || die "udevadm control --reload failed"
    if [ -f "$rules" ]; then
      # Apply the rules to adapters and GPIO chips that are already plugged in.
      udevadm trigger --action=change --subsystem-match=tty --subsystem-match=gpio ||
        die "udevadm trigger failed"
    fi
  fi
  step "(re)starting flashjig.service"
  systemctl restart flashjig.service ||
    die "flashjig.service did not start; see: journalctl -u flashjig.service -e"
fi
step "done"
