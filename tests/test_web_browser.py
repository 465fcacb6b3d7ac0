"""The status page in a real headless browser (Debian's chromium, driven by Playwright):
five sockets shown, a line-rate flash of all five followed live (progress moving on the
page, every result arriving) without a reload; a screenshot kept as a test artifact
(build/test-artifacts/status-page.png, or $FLASHJIG_TEST_ARTIFACTS)."""

import os
import socket
import time
from pathlib import Path

import pytest
from helpers import wait_for

from flashjig.cli.common import parse_since
from flashjig.config import WebConfig
from flashjig.simulation.station import simulated_station
from flashjig.station.commands import StationCommands
from flashjig.station.status import SocketState
from flashjig.web.server import StatusPage

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("FLASHJIG_TEST_ARTIFACTS", ROOT / "build" / "test-artifacts"))
ROW = "#sockets tbody tr"


def test_the_page_follows_five_sockets_flashing_live(station_config, tmp_path, browser):
    with simulated_station(station_config, tmp_path / "state", line_rate=True) as (
        station,
        hardware,
        _journal,
    ):
        page_server = StatusPage(
            WebConfig(host="127.0.0.1", port=0), StationCommands(station), parse_since=parse_since
        )
        page_server.start()
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.goto(page_server.url)
            page.wait_for_function(f"document.querySelectorAll('{ROW}').length === 5")
            names = page.eval_on_selector_all(ROW, "rows => rows.map(r => r.dataset.socket)")
            assert names == list(station.sockets)
            page.evaluate("window.loadedOnce = true")  # gone if the page reloaded
            for name in station.sockets:
                hardware.insert(name)
            wait_for(
                lambda: all(
                    s.status.state is SocketState.INSERTED for s in station.sockets.values()
                ),
                what="five modules seated",
            )
            hardware.press()
            seen = []
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                shown = page.eval_on_selector_all(
                    ROW,
                    "rows => rows.map(r => [r.querySelector('.state').textContent,"
                    " parseFloat(r.querySelector('.progress').dataset.percent)])",
                )
                seen.append(shown)
                if all(state == "ok" for state, _ in shown):
                    break
                if len(seen) == 40:  # mid-flash, for the README
                    ARTIFACTS.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(ARTIFACTS / "status-page-flashing.png"))
                time.sleep(0.1)
            assert all(state == "ok" for state, _ in seen[-1]), seen[-1]
            for i in range(5):
                progress = [row[i][1] for row in seen if row[i][0] == "flashing"]
                assert any(0 < p < 100 for p in progress), (i, progress)  # it moved
                assert progress == sorted(progress), (i, progress)
            assert page.evaluate("window.loadedOnce") is True
            page.wait_for_function(
                "document.querySelectorAll('#units tbody tr').length === 5"
            )  # the report took the five results in too
            results = page.eval_on_selector_all(
                ROW, "rows => rows.map(r => r.querySelector('.result').textContent)"
            )
            assert len(results) == 5, results  # a row each: all() of none would hold
            assert all(text.startswith("ok in ") for text in results), results
            page.wait_for_function(
                "[...document.images].every(i => i.complete && i.naturalWidth > 0)"
            )
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "status-page.png"), full_page=True)
            assert (ARTIFACTS / "status-page.png").stat().st_size > 10_000
        finally:
            page_server.stop()


@pytest.mark.parametrize("stream", ["direct", "held back"])
def test_a_page_opened_on_an_idle_station_shows_every_socket_within_a_second(
    station_config, tmp_path, browser, stream
):
    """Nothing changes on the station, so no event is due for 15 s: the page still shows
    the sockets at once, from the stream's first event or, when something between holds
    the stream back (a buffering proxy: here the browser's request never answered), from
    /api/status."""
    with simulated_station(station_config, tmp_path / "state") as (station, _hardware, _j):
        page_server = StatusPage(
            WebConfig(host="127.0.0.1", port=0), StationCommands(station), parse_since=parse_since
        )
        page_server.start()
        try:
            page = browser.new_page()
            held = []

            def hold(route):  # neither answered nor refused, as a buffering proxy does
                held.append(route)

            if stream == "held back":
                page.route("**/events", hold)
            page.goto(page_server.url)
            page.wait_for_function(f"document.querySelectorAll('{ROW}').length === 5", timeout=1000)
            assert page.inner_text("#summary").startswith("profile ")
            assert bool(held) == (stream == "held back")
        finally:
            page_server.stop()


def test_the_page_says_when_a_label_could_not_be_made(station_config, tmp_path, browser):
    """The label printer's trouble is on the page as in `flashjig status`: a label that
    could not be made, with why."""
    from helpers import ok_result, record

    with simulated_station(station_config, tmp_path / "state") as (station, _hardware, journal):
        row = record(journal, ok_result("socket1", mac="5c:cf:7f:00:00:01"), label=True)
        journal.label_failed(row.id, "client id does not fit a QR code")
        page_server = StatusPage(
            WebConfig(host="127.0.0.1", port=0), StationCommands(station), parse_since=parse_since
        )
        page_server.start()
        try:
            page = browser.new_page()
            page.goto(page_server.url)
            page.wait_for_function(
                "document.getElementById('summary').textContent.includes('labels failed')"
            )
            summary = page.inner_text("#summary")
            assert "1 labels failed (client id does not fit a QR code)" in summary
        finally:
            page_server.stop()


def test_the_page_says_when_it_lost_the_station_and_when_it_is_back(
    station_config, tmp_path, browser
):
    """The station's page goes away (a daemon restarting) and comes back on its port: the
    open page says plainly that it lost the station, then that it is back, and follows
    the station again without a reload."""
    with socket.socket() as probe:  # a port free on loopback
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = WebConfig(host="127.0.0.1", port=port)
    with simulated_station(station_config, tmp_path / "state") as (station, hardware, _j):
        page_server = StatusPage(config, StationCommands(station), parse_since=parse_since)
        page_server.start()
        page = browser.new_page()
        try:
            page.goto(page_server.url)
            page.wait_for_function(f"document.querySelectorAll('{ROW}').length === 5")
            page.evaluate("window.loadedOnce = true")
            assert page.is_hidden("#link")
            page_server.stop()
            page.wait_for_selector("#link.lost", timeout=10_000)
            assert page.inner_text("#link").startswith("lost the station at ")
            page_server = StatusPage(config, StationCommands(station), parse_since=parse_since)
            page_server.start()
            page.wait_for_selector("#link.back", timeout=15_000)
            assert page.inner_text("#link").startswith("the station is back (away ")
            hardware.insert("socket1")  # and it follows the station again
            page.wait_for_function(
                "document.querySelector('#sockets tbody tr').className === 'inserted'",
                timeout=10_000,
            )
            assert page.evaluate("window.loadedOnce") is True  # no reload
        finally:
            page_server.stop()
