"""What keeps the status page's commands to the people they are for (issue 29).

- DNS rebinding: a page of another site whose name the attacker points at the station
  sends that name as its Host. Only the names the station is reached by are taken: an IP
  address, localhost, the machine's own name (and its .local mDNS name), the configured
  listen host.
- A page of another site posting to the station: browsers send an Origin with every POST,
  and one that is not the page's own is refused (commands also take JSON only, which a
  plain cross-site form cannot send).
- Guessing the password: each wrong one is logged, and after a few in a row from one
  address every answer to it waits, longer each time.
"""

from __future__ import annotations

import ipaddress
import socket

FREE_FAILURES = 3  # from this wrong password in a row from one address, answers wait
MAX_DELAY_S = 8.0  # the longest a wrong password's answer waits
LOCAL_NAMES = ("localhost",)


def host_name(host: str) -> str:
    """The name in a Host header, without its port (an IPv6 literal without brackets)."""
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else ""
    name, _, _ = host.partition(":") if host.count(":") == 1 else (host, "", "")
    return name.lower().rstrip(".")


def allowed_host(host: str, listen_host: str) -> bool:
    """Whether a request naming ``host`` (its Host header) is for this station."""
    name = host_name(host)
    if not name:
        return False
    try:
        ipaddress.ip_address(name)
    except ValueError:
        own = socket.gethostname().lower()
        return name in {*LOCAL_NAMES, own, f"{own}.local", listen_host.lower()}
    return True


def same_origin(origin: str | None, scheme: str, host: str) -> bool:
    """Whether a request's Origin (None: not sent, as by curl) is the page's own."""
    return origin is None or origin.lower() == f"{scheme}://{host}".lower()


class LoginThrottle:
    """Wrong passwords counted per address; a right one clears the count."""

    def __init__(self) -> None:
        self._failures: dict[str, int] = {}

    def failed(self, address: str) -> int:
        """Count a wrong password from ``address``: how many in a row now."""
        if len(self._failures) > 10_000:  # a spray of addresses must not grow this forever
            self._failures.clear()
        self._failures[address] = self._failures.get(address, 0) + 1
        return self._failures[address]

    def succeeded(self, address: str) -> None:
        self._failures.pop(address, None)

    def delay(self, address: str) -> float:
        """How long the answer to ``address``'s last wrong password waits."""
        over = self._failures.get(address, 0) - FREE_FAILURES
        return 0.0 if over < 0 else min(MAX_DELAY_S, 0.5 * 2.0**over)
