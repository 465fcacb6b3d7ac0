#!/usr/bin/env bash
# Install flashjig on this machine from this checkout: build the Debian package (./jig deb)
# and install it with apt, which is also how it is updated (run this again after a pull).
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: systemd/install.sh

Build the Debian package from this checkout and install it with apt: on a Pi (arm64),
Raspberry Pi OS Bookworm, whose archive has python3-lgpio (Debian's has not); on amd64,
Debian Bookworm (no GPIO there). The same as:

  ./jig deb && sudo apt install ./build/deb/flashjig_*_$(dpkg --print-architecture).deb

The package installs the service, its user, the udev rules and the sample config
(/etc/flashjig/flashjig.yaml, never over an edited one); an upgrade waits for the flashes
in progress. See README.md, "On a Raspberry Pi".
USAGE
}

case "${1:-}" in
  "") ;;
  -h | --help)
    usage
    exit 0
    ;;
  *)
    echo "install.sh: unknown argument: $1 (see --help)" >&2
    exit 2
    ;;
esac

if [ "$(id -u)" -ne 0 ]; then
  echo "install.sh: installing a package needs root: sudo $0" >&2
  exit 1
fi
checkout=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
deb=$("$checkout/jig" deb | tail -n 1)
DEBIAN_FRONTEND=noninteractive apt-get install -y "$checkout/$deb"
