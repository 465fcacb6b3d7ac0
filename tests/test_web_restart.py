"""The status page across a restart of the daemon itself: `flashjig run --simulate` with a
web section, its page open in Chromium (Debian's, driven by Playwright); the daemon stops
as systemd stops it (SIGTERM) and starts again on the same config, state directory and
port. The open page says it lost the station, then that the station is back, and follows
the new daemon without a reload.

The page's ``#station``, ``#link`` and socket tiles are relied on, and what its event
stream delivered, recorded by a hook this test adds to the page (``window.statuses``: each
status event's data, with the time it arrived)."""

import errno
import signal
import socket
import time
import urllib.error
import urllib.request

import pytest
import yaml
from helpers import wait_for

pytestmark = pytest.mark.slow

# Before the page's own script: every EventSource the page opens also records its status
# events, so the test sees what reached the page whatever the page makes of it, and counts
# the streams' errors (a connection lost, a reconnection that failed).
RECORD_STATUSES = """
window.statuses = [];
window.streamErrors = 0;
window.EventSource = class extends window.EventSource {
  constructor(...args) {
    super(...args);
    this.addEventListener("status", (event) => {
      window.statuses.push({at: Date.now() / 1000, status: JSON.parse(event.data)});
    });
    this.addEventListener("error", () => { window.streamErrors += 1; });
  }
};
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def page_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "api/status", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def refused(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.connect(("127.0.0.1", port))
        except ConnectionRefusedError:
            return True
        except OSError as err:
            return err.errno == errno.ECONNREFUSED
        return False


@pytest.mark.parametrize("restart", ["quick", "slow"])
def test_the_open_page_follows_the_daemon_across_its_restart(
    station_config, tmp_path, start_daemon, browser, restart
):
    """quick: the daemon is back before the browser's first retry of the stream (2 s on,
    as the stream asks); slow: it is not (a Pi takes longer), a retry fails first.
    Chromium retries a refused stream every 2 s for as long as it takes: it gives up on
    the stream (and the page's own following anew is needed) only on an answer that is no
    event stream, such as a proxy's 502, which a daemon on its own never gives."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    config = tmp_path / "web.yaml"
    config.write_text(station_config.path.read_text() + f"web: {{listen: '127.0.0.1:{port}'}}\n")
    station = yaml.safe_load(config.read_text())["station"]["id"]

    daemon = start_daemon(config=config)  # killed after the test, whatever happens
    wait_for(lambda: page_answers(url), timeout=10, what="the first daemon's page")
    page = browser.new_page()
    page.add_init_script(RECORD_STATUSES)
    page.goto(url)
    page.wait_for_function(
        "name => document.getElementById('station').textContent === name", arg=station
    )
    page.wait_for_function("window.statuses.length > 0")  # the stream spoke
    assert page.is_hidden("#link")
    page.evaluate("window.loadedOnce = true")  # gone if the page reloads
    errors = page.evaluate("window.streamErrors")

    # Stopped as systemd stops it: the page says it lost the station.
    stopping = time.time()
    assert daemon.stop(signal.SIGTERM, timeout=15) == 0, daemon.stderr
    assert refused(port)
    page.wait_for_selector("#link.lost", timeout=10_000)
    assert page.inner_text("#link").startswith("lost the station at ")
    before = page.evaluate("window.statuses.length")
    if restart == "slow":  # the connection lost, then a reconnection refused
        page.wait_for_function(f"window.streamErrors >= {errors + 2}", timeout=10_000)

    # Started again, the same: the page is back on its own, and on the new daemon.
    restarted = time.time()
    daemon.start()
    page.wait_for_selector("#link.back", timeout=15_000)
    link = page.inner_text("#link")
    assert link.startswith("the station is back (away ") and link.endswith(" s)"), link
    away = int(link.removeprefix("the station is back (away ").removesuffix(" s)"))
    assert 0 <= away <= time.time() - stopping + 1, link
    page.wait_for_function(f"window.statuses.length > {before}")
    first = page.evaluate(f"window.statuses[{before}]")
    # From the new daemon: up no longer than since it was started (0.1 s: uptime's rounding).
    assert first["status"]["uptime_s"] <= first["at"] - restarted + 0.1, (first, restarted)
    assert first["status"]["station"] == station
    assert page.inner_text("#station") == station

    # And it follows the new daemon live: a module seated there reaches the page's tile.
    daemon.ctl("insert", "socket1")
    page.wait_for_function(
        "window.statuses.at(-1).status.sockets"
        ".some(s => s.name === 'socket1' && s.state === 'inserted')",
        timeout=10_000,
    )
    page.wait_for_selector(".tile[data-socket=socket1][data-state=inserted]", timeout=5_000)
    assert page.evaluate("window.loadedOnce") is True  # never reloaded

    assert daemon.stop(signal.SIGTERM, timeout=15) == 0, daemon.stderr
    assert refused(port)  # the port is free again
