"""The bench page in a real headless browser (Debian's chromium, driven by Playwright): a
tile per socket; "Flash all" clicked flashes the seated sockets and the tiles follow live;
text contrast measured against WCAG AA in the light and the dark scheme, in every state;
commands refused from another site, with a wrong password and when turned off; the page
through the station going away and coming back. Screenshots at laptop and phone widths are
kept as test artifacts (build/test-artifacts/, or $FLASHJIG_TEST_ARTIFACTS)."""

import json
import os
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from helpers import wait_for
from playwright.sync_api import Error as PlaywrightError

from flashjig.cli.common import parse_since
from flashjig.config import Chip, WebConfig
from flashjig.simulation.hardware import ModuleSpec
from flashjig.simulation.station import simulated_station
from flashjig.station.commands import StationCommands
from flashjig.station.status import SocketState
from flashjig.web.server import StatusPage

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(os.environ.get("FLASHJIG_TEST_ARTIFACTS", ROOT / "build" / "test-artifacts"))
TILE = "#tray .tile"
PASSWORD = "s3cret"
LOGIN = {"username": "flashjig", "password": PASSWORD}
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}  # a phone held upright, in CSS pixels
TILES = (
    "tiles => tiles.map(t => ({socket: t.dataset.socket, state: t.dataset.state,"
    " percent: parseFloat(t.querySelector('.bar').dataset.percent),"
    " result: t.querySelector('.result').textContent,"
    " advice: t.querySelector('.advice').textContent}))"
)
CONTRAST = (Path(__file__).parent / "wcag_contrast.js").read_text()
# Each new picture the page asks the station for, and how many while a tile showed a
# module flashing (the page's own condition: it shows the tiles before it asks).
PICTURES_COUNTED = """() => {
  window.pictures = {drawn: 0, whileFlashing: 0};
  new MutationObserver(() => {
    window.pictures.drawn += 1;
    if (document.querySelector(".tile[data-state=flashing]")) window.pictures.whileFlashing += 1;
  }).observe(document.getElementById("plot-per-hour"), {attributeFilter: ["src"]});
}"""


def tiles(page) -> list[dict]:
    return page.eval_on_selector_all(TILE, TILES)


def states_fit(page) -> None:
    """Each tile's state word is whole on screen and big enough to read across a room."""
    sizes = page.eval_on_selector_all(
        f"{TILE} .state",
        "ss => ss.map(s => [s.textContent, s.scrollWidth <= s.clientWidth,"
        " parseFloat(getComputedStyle(s).fontSize)])",
    )
    assert sizes and all(fits and size >= 56 for _, fits, size in sizes), sizes


def shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
    return path


def test_flash_all_clicked_flashes_the_seated_sockets_and_the_tiles_follow_live(page, browser):
    status_page, station, hardware = page(PASSWORD, line_rate=True, commands=True)
    context = browser.new_context(viewport=LAPTOP, http_credentials=LOGIN)
    view = context.new_page()
    view.goto(status_page.url)
    view.wait_for_function(f"document.querySelectorAll('{TILE}').length === 5")
    assert [t["socket"] for t in tiles(view)] == list(station.sockets)  # front-panel order
    view.evaluate("window.loadedOnce = true")  # gone if the page reloaded
    for name in station.sockets:
        hardware.insert(name)
    wait_for(
        lambda: all(s.status.state is SocketState.INSERTED for s in station.sockets.values()),
        what="five modules seated",
    )
    view.wait_for_function(
        f"[...document.querySelectorAll('{TILE}')].every(t => t.dataset.state === 'inserted')"
    )
    view.evaluate(PICTURES_COUNTED)
    view.click("#flash-all")
    seen, mid_flash = [], False
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        shown = tiles(view)
        seen.append(shown)
        if all(t["state"] == "ok" for t in shown):
            break
        if not mid_flash and all(t["state"] == "flashing" and t["percent"] > 0 for t in shown):
            mid_flash = True
            states_fit(view)
            shot(view, "status-page-flashing.png")
        time.sleep(0.1)
    assert mid_flash, "the page never showed the five writing at once"
    assert view.inner_text("#answer") == "flashing " + ", ".join(station.sockets)
    assert all(t["state"] == "ok" for t in seen[-1]), seen[-1]
    for i in range(5):
        progress = [row[i]["percent"] for row in seen if row[i]["state"] == "flashing"]
        assert any(0 < p < 100 for p in progress), (i, progress)  # it moved on the page
        assert progress == sorted(progress), (i, progress)
    assert view.evaluate("window.loadedOnce") is True
    assert all(t["result"].startswith("ok in ") for t in seen[-1]), seen[-1]
    # No picture drawn while modules flashed (they cost the station's CPU), new ones after.
    view.wait_for_function("window.pictures.drawn > 0")
    assert view.evaluate("window.pictures.whileFlashing") == 0
    view.wait_for_function("document.querySelectorAll('#units tbody tr').length === 5")
    macs = {s.status.mac for s in station.sockets.values()}
    assert macs <= set(view.inner_text("#units").split()), "today's units list the five MACs"
    assert view.inner_text("#today").startswith("5 ok, 0 failed today")
    assert re.fullmatch(r"socket\d ok in \d+\.\d s", view.inner_text("#announce"))
    for link, name, holds in (
        ("#download-csv", "flashjig-units-", macs),
        ("#download-labels", "flashjig-labels-", {"%PDF"}),
    ):
        with view.expect_download() as download:
            view.click(link)
        assert download.value.suggested_filename.startswith(name)
        data = Path(download.value.path()).read_bytes().decode("latin-1")
        assert all(text in data for text in holds), (link, data[:200])
    view.wait_for_function("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
    shot(view, "status-page-laptop.png")
    view.set_viewport_size(PHONE)
    width = view.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width} px wide on a phone"
    lefts = view.eval_on_selector_all(TILE, "ts => ts.map(t => t.getBoundingClientRect().left)")
    assert len(set(lefts)) == 1, lefts  # one column
    states_fit(view)
    shot(view, "status-page-phone.png")
    view.emulate_media(color_scheme="dark")
    shot(view, "status-page-phone-dark.png")
    context.close()


def test_the_batch_says_how_many_are_left_and_when_it_will_be_done(page, browser):
    status_page, station, hardware = page()
    view = browser.new_page(viewport=LAPTOP)
    view.goto(status_page.url)
    hardware.insert("socket1")
    wait_for(lambda: station.sockets["socket1"].status.state is SocketState.INSERTED)
    StationCommands(station).flash("socket1")
    view.wait_for_function("document.getElementById('today').textContent.includes('per hour')")
    assert view.inner_text("#today").startswith("1 ok, 0 failed today; ")
    assert view.inner_text("#batch-left") == ""  # no batch size: nothing to count down
    view.fill("#batch-size", "40")
    assert view.inner_text("#batch-left").startswith("39 left, done at about ")
    view.reload()  # the size typed is kept by this browser
    view.wait_for_function("document.getElementById('batch-left').textContent !== ''")
    assert view.input_value("#batch-size") == "40"
    assert view.inner_text("#batch-left").startswith("39 left")
    view.fill("#batch-size", "1")
    assert view.inner_text("#batch-left") == "done"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_contrast_meets_wcag_aa_in_every_state(page, browser, scheme):
    """Every socket state on show at once (empty, ready, failed, ok and flashing), each text
    measured against what is behind it."""
    status_page, station, hardware = page(PASSWORD, line_rate=True, commands=True)
    commands = StationCommands(station)
    context = browser.new_context(viewport=LAPTOP, http_credentials=LOGIN, color_scheme=scheme)
    view = context.new_page()
    view.goto(status_page.url)
    hardware.insert("socket2")  # seated, not flashed: ready
    hardware.insert("socket3", ModuleSpec(chip=Chip.ESP32))  # an ESP32 in an ESP8266 socket
    hardware.insert("socket4")
    for name in ("socket3", "socket4"):
        wait_for(lambda n=name: station.sockets[n].status.state is SocketState.INSERTED)
        commands.flash(name)
    wait_for(
        lambda: (
            station.sockets["socket3"].status.state is SocketState.FAILED
            and station.sockets["socket4"].status.state is SocketState.OK
        ),
        timeout=60,
        what="socket3 failed, socket4 ok",
    )
    hardware.insert("socket5")
    wait_for(lambda: station.sockets["socket5"].status.state is SocketState.INSERTED)
    commands.flash("socket5")
    view.wait_for_function(
        "['empty', 'inserted', 'failed', 'ok', 'flashing'].every(state =>"
        " document.querySelector(`.tile[data-state=${state}]`))",
        timeout=30_000,
    )
    view.wait_for_selector("#pictures-age", state="visible")  # the tiles settled
    shot(view, f"status-page-states-{scheme}.png")
    commands.drain("lunch")  # the drained banner, and a refusal, measured too
    view.evaluate("command('flash', {socket: 'socket9'})")
    view.wait_for_selector("#answer.refused")
    view.wait_for_function("document.getElementById('paused').textContent !== ''")
    # Its attempt counted while it flashes: the pictures wait, and the page says so.
    view.wait_for_selector("#pictures-age", state="visible")
    assert view.inner_text("#pictures-age").startswith("the pictures are as of ")
    states_fit(view)
    measured = view.evaluate(CONTRAST)
    assert set(measured["checked"]) >= {"page", "empty", "inserted", "failed", "ok", "flashing"}
    assert measured["failing"] == [], measured["failing"]
    failed = next(t for t in tiles(view) if t["socket"] == "socket3")
    buttons = view.eval_on_selector_all(
        f"{TILE} button", "bs => bs.filter(b => !b.hidden).map(b => b.textContent)"
    )
    # socket2 ready, socket3 failed (both seated: flashed when asked), socket5 flashing
    assert buttons == ["Flash", "Flash again", "Cancel"]
    assert failed["result"].startswith("failed: wrong chip")
    assert failed["advice"] == "another chip than the profile's: use the right module or profile"
    pictures = view.eval_on_selector_all(".plots img", "images => images.map(i => i.src)")
    assert len(pictures) == 2 and all(f"scheme={scheme}" in src for src in pictures), pictures
    shot(view, f"status-page-drained-{scheme}.png")
    # The flashing tile's own Cancel: that module alone.
    view.click(".tile[data-socket=socket5] .cancel")
    view.wait_for_selector(".tile[data-socket=socket5][data-state=failed]")
    cancelled = next(t for t in tiles(view) if t["socket"] == "socket5")
    assert cancelled["result"] == "failed: cancelled", cancelled
    assert view.inner_text("#answer") == "cancelled socket5"
    assert station.sockets["socket4"].status.state is SocketState.OK
    context.close()


class _OtherSite(BaseHTTPRequestHandler):
    """A page of another site that posts a command to the station as the browser visits,
    with the password the browser holds for it (credentials: include)."""

    station_url = ""

    def do_GET(self) -> None:
        body = (
            f"<script>fetch({json.dumps(self.station_url + 'api/commands/flash')},"
            " {method: 'POST', mode: 'no-cors', credentials: 'include', body: '{}'})"
            ".then(() => document.title = 'posted', () => document.title = 'posted')</script>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_commands_are_refused_from_another_site_and_with_a_wrong_password(page, browser, caplog):
    status_page, station, hardware = page(PASSWORD, commands=True)
    hardware.insert("socket1")
    wait_for(lambda: station.sockets["socket1"].status.state is SocketState.INSERTED)
    # Another site, visited by someone logged in to the station: its post is refused.
    _OtherSite.station_url = status_page.url
    other = ThreadingHTTPServer(("127.0.0.1", 0), _OtherSite)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        context = browser.new_context(http_credentials=LOGIN)
        view = context.new_page()
        view.goto(status_page.url)  # logged in to the station: the browser has the password
        view.goto(f"http://127.0.0.1:{other.server_address[1]}/")
        view.wait_for_function("document.title === 'posted'")
        refusal = "status page: a command from another site (http://127.0.0.1:"
        wait_for(lambda: refusal in caplog.text, what="the post refused")
        assert station.sockets["socket1"].status.state is SocketState.INSERTED
        context.close()
    finally:
        other.shutdown()
    # A wrong password: nothing shown, nothing done, logged.
    context = browser.new_context(http_credentials={**LOGIN, "password": "guess"})
    view = context.new_page()
    try:
        assert view.goto(status_page.url).status == 401
    except PlaywrightError as e:  # chromium gives up on a login that keeps failing
        assert "ERR_HTTP_RESPONSE_CODE_FAILURE" in str(e)
    assert "wrong password from 127.0.0.1" in caplog.text
    context.close()
    # The page's own buttons with the right password work (socket1 flashes)...
    context = browser.new_context(http_credentials=LOGIN)
    view = context.new_page()
    view.goto(status_page.url)
    view.wait_for_selector(".tile[data-socket=socket1] .flash", state="visible")
    view.click(".tile[data-socket=socket1] .flash")
    view.wait_for_function("document.getElementById('answer').textContent === 'flashing socket1'")
    wait_for(lambda: station.sockets["socket1"].status.state is SocketState.OK, timeout=60)
    view.select_option("#profile", "demo")
    view.wait_for_function("document.getElementById('answer').textContent.startsWith('profile')")
    context.close()


def test_with_commands_off_the_page_offers_none_and_its_own_post_is_refused(page, browser):
    off_page, off_station, _hardware = page(PASSWORD)
    context = browser.new_context(http_credentials=LOGIN)
    view = context.new_page()
    view.goto(off_page.url)
    view.wait_for_function(f"document.querySelectorAll('{TILE}').length === 5")
    assert view.is_hidden("#controls")
    answer = view.evaluate(
        "fetch('/api/commands/drain', {method: 'POST', headers: {'Content-Type':"
        " 'application/json'}, body: '{}'}).then(r => r.json().then(j => [r.status, j.error]))"
    )
    assert answer == [403, "commands from the page are off (web.commands in the config)"]
    assert off_station.status().paused is None
    context.close()


@pytest.mark.parametrize("stream", ["direct", "held back"])
def test_a_page_opened_on_an_idle_station_shows_every_socket_within_a_second(page, browser, stream):
    """Nothing changes on the station, so no event is due for 15 s: the page still shows
    the sockets at once, from the stream's first event or, when something between holds
    the stream back (a buffering proxy: here the browser's request never answered), from
    /api/status."""
    status_page, _station, _hardware = page()
    view = browser.new_page()
    held = []

    def hold(route):  # neither answered nor refused, as a buffering proxy does
        held.append(route)

    if stream == "held back":
        view.route("**/events", hold)
    view.goto(status_page.url)
    view.wait_for_function(f"document.querySelectorAll('{TILE}').length === 5", timeout=1000)
    assert view.inner_text("#summary").startswith("profile ")
    assert bool(held) == (stream == "held back")


def test_the_page_says_what_holds_the_labels(station_config, tmp_path, browser):
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
            view = browser.new_page()
            view.goto(page_server.url)
            view.wait_for_selector("#labels-line.trouble")
            assert view.inner_text("#labels-line") == (
                "1 labels could not be made (client id does not fit a QR code)"
            )
        finally:
            page_server.stop()


def test_a_download_refused_says_why(page, browser):
    """Nothing flashed yet this morning: the labels' link shows the station's words, not a
    download that silently failed."""
    status_page, _station, _hardware = page()
    view = browser.new_page()
    view.goto(status_page.url)
    view.click("#download-labels")
    view.wait_for_function("document.body.innerText.includes('no unit flashed ok')")
    assert view.inner_text("body").strip() == "no unit flashed ok since today"


def test_the_units_are_found_by_what_is_typed(station_config, tmp_path, browser):
    from helpers import failed_result, ok_result, record

    with simulated_station(station_config, tmp_path / "state") as (station, _hardware, journal):
        for n in range(1, 4):
            record(journal, ok_result("socket1", mac=f"5c:cf:7f:00:00:0{n}", serial=n))
        record(journal, failed_result("socket2"))
        page_server = StatusPage(
            WebConfig(host="127.0.0.1", port=0), StationCommands(station), parse_since=parse_since
        )
        page_server.start()
        try:
            view = browser.new_page()
            view.goto(page_server.url)
            view.wait_for_function("document.querySelectorAll('#units tbody tr').length >= 3")
            view.fill("#find", "7f:00:00:02")
            shown = view.eval_on_selector_all(
                "#units tbody tr", "rows => rows.filter(r => !r.hidden).map(r => r.textContent)"
            )
            assert len(shown) == 1 and "5c:cf:7f:00:00:02" in shown[0], shown
            assert view.inner_text("#found") == "1 of 3"
            view.fill("#find", "")
            assert view.inner_text("#found") == ""
        finally:
            page_server.stop()


@pytest.mark.parametrize("between", ["nothing", "a proxy"])
def test_the_page_says_when_it_lost_the_station_and_when_it_is_back(
    station_config, tmp_path, browser, between
):
    """The station's page goes away and comes back on its port: the open page says plainly
    that it lost the station, then that it is back, and follows the station again without
    a reload. Behind a proxy, which answers 502 while the station is away, the browser
    gives up on the stream: the page follows it anew."""
    with socket.socket() as probe:  # a port free on loopback
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = WebConfig(host="127.0.0.1", port=port)
    with simulated_station(station_config, tmp_path / "state") as (station, hardware, _j):
        page_server = StatusPage(config, StationCommands(station), parse_since=parse_since)
        page_server.start()
        view = browser.new_page()
        try:
            view.goto(page_server.url)
            view.wait_for_function(f"document.querySelectorAll('{TILE}').length === 5")
            view.evaluate("window.loadedOnce = true")
            assert view.is_hidden("#link")
            page_server.stop()
            if between == "a proxy":
                proxied = []  # the stream asked for while the proxy answers 502

                def bad_gateway(route):
                    proxied.append(route)
                    route.fulfill(status=502, body="away")

                view.route("**/events", bad_gateway)
            view.wait_for_selector("#link.lost", timeout=10_000)
            assert view.inner_text("#link").startswith("lost the station at ")
            if between == "a proxy":
                deadline = time.monotonic() + 10
                while len(proxied) < 2 and time.monotonic() < deadline:
                    view.wait_for_timeout(100)  # the browser's events are handled meanwhile
                assert len(proxied) >= 2, "the stream was not asked for again after a 502"
                view.unroute("**/events")
            page_server = StatusPage(config, StationCommands(station), parse_since=parse_since)
            page_server.start()
            view.wait_for_selector("#link.back", timeout=15_000)
            assert view.inner_text("#link").startswith("the station is back (away ")
            hardware.insert("socket1")  # and it follows the station again
            view.wait_for_selector(".tile[data-socket=socket1][data-state=inserted]")
            assert view.evaluate("window.loadedOnce") is True  # no reload
        finally:
            page_server.stop()
