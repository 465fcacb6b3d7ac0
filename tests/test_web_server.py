"""The status page's server on loopback, beside a simulated station: the page and its
assets (nothing from elsewhere), /api/status as `flashjig status --json` has it, /events
following a flash live (progress moving, the result arriving), /api/report, and basic
auth: a wrong password gets 401 and nothing else."""

import asyncio
import base64
import http.client
import io
import json
import re
import time
import urllib.error
import urllib.request

import pytest
from helpers import wait_for
from PIL import Image

from flashjig.cli.common import parse_since
from flashjig.config import WebConfig
from flashjig.station.commands import StationCommands
from flashjig.station.status import SocketState
from flashjig.web.server import EVENT_MIN_S, STATIC, StatusPage, _StatusFeed


def get(page, path, auth=None):
    request = urllib.request.Request(page.url.rstrip("/") + path)
    if auth is not None:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.headers, response.read()


def events(page):
    """The status events of /events, one at a time, as they come."""
    link = http.client.HTTPConnection("127.0.0.1", page.port, timeout=10)
    link.request("GET", "/events")
    response = link.getresponse()
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    try:
        event, data = None, []
        while True:
            line = response.readline().decode().rstrip("\n")
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data.append(line.removeprefix("data: "))
            elif not line and data:
                assert event == "status"
                yield json.loads("\n".join(data))
                event, data = None, []
    finally:
        link.close()


def test_the_page_and_its_assets_are_all_served_from_here(page):
    status_page, _, _ = page()
    status, headers, body = get(status_page, "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assets = re.findall(rb"""(?:<link [^>]*href|src)=["']?([^"' >]+)""", body)
    # The page's links are its own downloads: on this station, nowhere else.
    links = re.findall(rb"""<a [^>]*href=["']?([^"' >]+)""", body)
    assert links and all(link.startswith(b"/downloads/") for link in links), links
    shipped = {path.name for path in STATIC.iterdir()}
    # Every file the package ships for the page is what the page asks for (and the page).
    assert {asset.rsplit(b"/", 1)[-1].decode() for asset in assets} == shipped - {"index.html"}
    for asset in assets:
        assert asset.startswith(b"/static/"), asset  # no CDN, nothing from elsewhere
        status, _, _ = get(status_page, asset.decode())
        assert status == 200
    for name in shipped:
        assert b"://" not in (STATIC / name).read_bytes(), name
    with pytest.raises(urllib.error.HTTPError) as missing:
        get(status_page, "/static/../server.py")
    assert missing.value.code == 404


def test_the_api_status_is_the_stations(page):
    status_page, station, _ = page()
    _, headers, body = get(status_page, "/api/status")
    status = json.loads(body)
    assert headers["Content-Type"].startswith("application/json")
    assert [s["name"] for s in status["sockets"]] == list(station.sockets)
    assert status.keys() == station.status().as_dict().keys()
    assert status["sockets"][0]["rates"]["adapter"] == "sim:socket1"  # the page's baud column
    _, _, script = get(status_page, "/static/app.js")
    assert b"s.rates.sync" in script


def test_a_new_event_stream_gets_the_status_at_once_on_an_idle_station(page):
    """The keep-alive is 15 s: a new stream must not wait for it, nor a proxy hold it."""
    status_page, station, _ = page()
    link = http.client.HTTPConnection("127.0.0.1", status_page.port, timeout=1)
    link.request("GET", "/events")
    response = link.getresponse()
    assert response.headers["X-Accel-Buffering"] == "no"
    # The stream first tells the browser how soon to come back when it is lost...
    assert (response.readline(), response.readline()) == (b"retry: 2000\n", b"\n")
    assert response.readline() == b"event: status\n"  # ...then the status, within 1 s
    data = json.loads(response.readline().decode().removeprefix("data: "))
    assert [s["name"] for s in data["sockets"]] == list(station.sockets)
    link.close()


@pytest.mark.slow
def test_events_follow_a_flash_live_and_the_report_has_it(page):
    # At line rate: without the wire's time a flash can end between two events.
    status_page, station, hardware = page(line_rate=True)
    stream = events(status_page)
    first = next(stream)
    assert {s["state"] for s in first["sockets"]} == {"empty"}
    hardware.insert("socket1")
    wait_for(lambda: station.sockets["socket1"].status.state is SocketState.INSERTED)
    hardware.press()
    seen = []
    for status in stream:
        socket1 = status["sockets"][0]
        seen.append((socket1["state"], socket1["progress"]))
        if socket1["state"] == "ok":
            break
    progress = [p for state, p in seen if state == "flashing"]
    assert any(0 < p < 100 for p in progress), seen  # it moved while the page watched
    assert progress == sorted(progress)
    _, _, body = get(status_page, "/api/report?since=today")
    report = json.loads(body)
    assert (report["ok"], report["attempts"]) == (1, 1)
    assert report["units"][0]["mac"] == socket1["mac"]
    with pytest.raises(urllib.error.HTTPError) as bad:
        get(status_page, "/api/report?since=someday")
    assert bad.value.code == 400


def test_a_report_since_before_dates_go_is_the_whole_journal(page):
    """?since=999999999d was an OverflowError and a 500."""
    status_page, _, _ = page()
    status, _, body = get(status_page, "/api/report?since=999999999d")
    assert status == 200 and json.loads(body)["attempts"] == 0


def test_a_wrong_password_gets_401_and_nothing_else(page):
    status_page, _, _ = page(password="s3cret")
    for path in ("/", "/api/status", "/events", "/static/app.js"):
        for auth in (None, "flashjig:wrong", "root:s3cret", "flashjig"):
            with pytest.raises(urllib.error.HTTPError) as refused:
                get(status_page, path, auth=auth)
            assert refused.value.code == 401
            assert refused.value.read() == b""
            assert refused.value.headers["WWW-Authenticate"] == 'Basic realm="flashjig"'
    status, _, _ = get(status_page, "/api/status", auth="flashjig:s3cret")
    assert status == 200


def test_a_taken_port_leaves_the_station_running(page, caplog):
    first, station, _ = page()
    config = WebConfig(host="127.0.0.1", port=first.port)
    second = StatusPage(config, StationCommands(station), parse_since=parse_since)
    second.start()
    assert "the status page cannot listen on 127.0.0.1:" in caplog.text
    second.stop()
    assert get(first, "/api/status")[0] == 200


@pytest.mark.slow
def test_the_daemon_serves_the_page_and_a_reload_keeps_it(station_config, tmp_path):
    """`flashjig run` with a web section: the page's status is the control socket's; a
    reload (the reporters start over) serves it again."""
    import socket as sockets

    from helpers import DaemonProcess

    with sockets.socket() as probe:  # a port free on loopback
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "web.yaml"
    config.write_text(station_config.path.read_text() + f"web: {{listen: '127.0.0.1:{port}'}}\n")
    daemon = DaemonProcess(config, tmp_path / "state")
    try:

        class Page:
            url = f"http://127.0.0.1:{port}/"

        wait_for(lambda: _answers(Page), what="the status page")
        status = json.loads(get(Page, "/api/status")[2])
        assert status["station"] == daemon.status()["station"]
        assert [s["name"] for s in status["sockets"]] == list(daemon.sockets())
        assert daemon.ctl("reload").returncode == 0
        wait_for(lambda: _answers(Page), what="the status page after the reload")
    finally:
        daemon.close()
    assert "status page at http://127.0.0.1:" in daemon.stderr


def _answers(page) -> bool:
    try:
        return get(page, "/api/status")[0] == 200
    except (urllib.error.URLError, ConnectionError):
        return False


def test_the_reports_pictures_are_pngs_of_it(page, tmp_path):
    status_page, station, _ = page()
    for name in ("per-hour", "reasons"):
        status, headers, body = get(status_page, f"/plots/{name}.png?since=today")
        assert status == 200 and headers["Content-Type"] == "image/png"
        picture = Image.open(io.BytesIO(body))
        assert picture.size == (640, 260)
    with pytest.raises(urllib.error.HTTPError) as unknown:
        get(status_page, "/plots/pie.png")
    assert unknown.value.code == 404


def test_a_picture_is_drawn_once_per_report_whoever_asks(page, monkeypatch):
    """Ten pages asking for the same picture cost the station one drawing; a new result
    in the journal, one more."""
    from helpers import ok_result, record

    from flashjig.web import plots

    drawn = []
    draw = plots.per_hour

    def counted(report, **how):
        drawn.append(how)
        return draw(report, **how)

    monkeypatch.setattr(plots, "per_hour", counted)
    status_page, station, _ = page()
    first = {get(status_page, "/plots/per-hour.png?since=today")[2] for _ in range(10)}
    assert len(drawn) == 1 and len(first) == 1
    record(station.journal, ok_result("socket1"))
    second = get(status_page, "/plots/per-hour.png?since=today")[2]
    assert len(drawn) == 2 and second not in first
    get(status_page, "/plots/per-hour.png")  # another report (the whole journal): drawn
    assert len(drawn) == 3
    dark = get(status_page, "/plots/per-hour.png?since=today&scheme=dark")[2]  # for a dark page
    assert drawn[-1] == {"dark": True} and len(drawn) == 4 and dark != second
    get(status_page, "/plots/per-hour.png?since=today&scheme=dark")
    assert len(drawn) == 4


def colours(png: bytes) -> set[tuple[int, int, int]]:
    return {rgb for _, rgb in Image.open(io.BytesIO(png)).convert("RGB").getcolors(1 << 20)}


def test_the_pictures_show_the_numbers():
    """Green bars for ok, red for failed, where there are any: the plot is of the data."""
    from flashjig.web import plots

    green, red = (0x2B, 0x8A, 0x3E), (0xC9, 0x2A, 0x2A)
    busy = {"per_hour": [{"hour": "2026-12-02T03", "ok": 5, "failed": 1}], "by_reason": {}}
    assert {green, red} <= colours(plots.per_hour(busy))
    idle = {"per_hour": [], "by_reason": {}}
    assert not {green, red} & colours(plots.per_hour(idle))
    assert red in colours(plots.reasons({"by_reason": {"no sync": 3, "verify failed": 1}}))
    assert red not in colours(plots.reasons(idle))


@pytest.mark.parametrize("draw", ["per_hour", "reasons"])
def test_a_dark_page_gets_dark_pictures_with_the_same_bars(draw):
    """In the dark scheme a picture is the page's dark tile colour behind light text, not a
    white block; the bars keep the LED colours."""
    from flashjig.web import plots

    report = {"per_hour": [{"hour": "2026-12-02T03", "ok": 5, "failed": 1}]}
    report["by_reason"] = {"no sync": 3}
    light, dark = (getattr(plots, draw)(report, dark=dark) for dark in (False, True))
    corner = {True: (0x1D, 0x21, 0x26), False: (0xFF, 0xFF, 0xFF)}
    for picture, is_dark in ((light, False), (dark, True)):
        image = Image.open(io.BytesIO(picture)).convert("RGB")
        assert image.getpixel((2, 2)) == corner[is_dark]
    red = (0xC9, 0x2A, 0x2A)
    assert red in colours(light) and red in colours(dark)


def _open_fds() -> int:
    import os

    return len(os.listdir("/proc/self/fd"))


def _silent_connections(port: int, count: int) -> list:
    import socket

    return [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(count)]


def _closed_by_the_page(connection) -> bool:
    connection.setblocking(False)
    try:
        return connection.recv(1) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True


def test_silent_connections_are_closed_after_a_while_and_their_descriptors_come_back(
    page, monkeypatch
):
    """Before: aiohttp waited an hour for a first request on a connection."""
    from flashjig.web import server

    monkeypatch.setattr(server, "IDLE_S", 1.0)
    status_page, _, _ = page()
    before = _open_fds()
    silent = _silent_connections(status_page.port, 20)
    wait_for(lambda: all(map(_closed_by_the_page, silent)), timeout=10, what="closed")
    for connection in silent:
        connection.close()
    wait_for(lambda: _open_fds() <= before + 2, timeout=10, what="descriptors given back")


def test_a_request_head_sent_a_byte_at_a_time_is_cut_off(page, monkeypatch):
    """A client that never finishes its request head (one byte now and then) is closed
    after IDLE_S like a silent one, not held while it trickles."""
    import socket

    from flashjig.web import server

    monkeypatch.setattr(server, "IDLE_S", 1.0)
    status_page, _, _ = page()
    slow = socket.create_connection(("127.0.0.1", status_page.port), timeout=0.3)
    slow.sendall(b"GET /api/status HTTP/1.1\r\n")
    started = time.monotonic()
    closed = False
    while not closed and time.monotonic() - started < 10:
        try:
            slow.sendall(b"X")
            closed = slow.recv(1) == b""
        except TimeoutError:
            continue
        except (ConnectionResetError, BrokenPipeError):  # closed by the page
            closed = True
    assert closed and time.monotonic() - started < 5
    slow.close()


def test_a_flood_of_connections_is_held_at_the_cap_and_a_person_still_gets_in(page, monkeypatch):
    """Before: no cap; a few hundred silent connections used up the daemon's descriptors
    and a person's request timed out. Now at most MAX_CONNECTIONS are accepted (the rest
    wait in the kernel's backlog, costing the daemon nothing), and at the cap the oldest
    connection silent for SILENT_S is closed to let the next one in."""

    from flashjig.web import server

    monkeypatch.setattr(server, "SILENT_S", 0.5)
    monkeypatch.setattr(server, "IDLE_S", 120.0)  # none of the flood times out meanwhile
    status_page, _, _ = page()
    before = _open_fds()
    flood = _silent_connections(status_page.port, server.MAX_CONNECTIONS + 50)
    # Room is made for each of the 50 beyond the cap, and for nobody else: before, one
    # more was closed with nobody waiting, leaving the page one below the cap for good
    # (and this wait, started after the flood, timed out in CI).
    wait_for(lambda: status_page._evicted >= 50, what="room made for the 50 in the backlog")
    assert (status_page._evicted, status_page._open) == (50, server.MAX_CONNECTIONS)
    # The page's side of them (the flood's own sockets are this process's too).
    assert _open_fds() - len(flood) <= before + server.MAX_CONNECTIONS + 4
    started = time.monotonic()
    assert get(status_page, "/api/status")[0] == 200
    assert time.monotonic() - started < 5
    assert status_page._open <= server.MAX_CONNECTIONS
    assert sum(map(_closed_by_the_page, flood)) >= 1  # a silent one made room
    for connection in flood:
        connection.close()
    wait_for(lambda: _open_fds() <= before + 2, timeout=15, what="descriptors given back")


def test_at_the_cap_a_connection_that_ends_makes_room_without_closing_another(page, monkeypatch):
    """Before: waiting at the cap for a newcomer, the page closed a silent connection for it
    even when one had ended meanwhile and there was room already."""
    from flashjig.web import server

    # Every connection may be closed for a newcomer at once: then only a newcomer is a
    # reason to close one (before, the cap itself was: the page never reached it).
    monkeypatch.setattr(server, "SILENT_S", 0.0)
    monkeypatch.setattr(server, "IDLE_S", 120.0)
    status_page, _, _ = page()
    flood = _silent_connections(status_page.port, server.MAX_CONNECTIONS)
    wait_for(lambda: status_page._open == server.MAX_CONNECTIONS, what="the cap reached")
    flood.pop().close()
    wait_for(lambda: status_page._open == server.MAX_CONNECTIONS - 1, what="one gone")
    flood += _silent_connections(status_page.port, 1)
    wait_for(lambda: status_page._open == server.MAX_CONNECTIONS, what="the newcomer in")
    assert status_page._evicted == 0
    assert not any(map(_closed_by_the_page, flood))
    for connection in flood:
        connection.close()


def test_event_streams_are_capped(page):
    from flashjig.web import server

    status_page, _, _ = page()
    streams = [events(status_page) for _ in range(server.MAX_STREAMS)]
    for stream in streams:
        next(stream)
    with pytest.raises(urllib.error.HTTPError) as refused:
        get(status_page, "/events")
    assert refused.value.code == 503 and refused.value.headers["Retry-After"] == "30"
    for stream in streams:
        stream.close()
    wait_for(lambda: status_page._streams == 0, what="the streams gone")
    stream = events(status_page)
    assert next(stream)["sockets"]  # room again
    stream.close()


def test_open_pages_share_one_status_per_change(page):
    """Before, each /events stream built the status itself (journal counts under the
    journal's lock) at every change: a hundred idle pages slowed the station. Now the
    status is built once per change and every stream sends that one."""
    status_page, station, hardware = page()
    built = []
    status = station.status

    def counted():
        built.append(1)
        return status()

    station.status = counted
    streams = [events(status_page) for _ in range(20)]
    for stream in streams:
        assert {s["state"] for s in next(stream)["sockets"]} == {"empty"}
    built.clear()
    hardware.insert("socket1")
    for stream in streams:  # every page sees the module seated...
        while next(stream)["sockets"][0]["state"] != "inserted":
            pass
    assert len(built) <= 3, len(built)  # ...from one status (or two, as the change settles)
    for stream in streams:
        stream.close()


def test_the_feed_closes_when_a_change_comes_with_the_close():
    """A change told just as the page stops (a reload tells the station's change, then
    stops the old page): Python 3.11's asyncio.wait_for, which the feed waited for changes
    in, returned the change and swallowed the cancel, so the feed ran on and the page's
    stop timed out (a reload then failed with an internal error)."""

    async def told_then_closed() -> None:
        feed = _StatusFeed(lambda: {"station": "bench-1"})
        await asyncio.sleep(EVENT_MIN_S + 0.25)  # its first frame made: waiting for a change
        feed.changed()
        await asyncio.wait_for(feed.close(), 5)

    asyncio.run(told_then_closed())


def test_no_other_site_may_frame_the_page(page):
    """A click inside a frame on another site would be a click here (clickjacking gets
    past the Origin check): every answer says the page may not be framed, refusals too."""
    status_page, _, _ = page("s3cret")
    for path, auth in (("/", "flashjig:s3cret"), ("/api/status", "flashjig:s3cret"), ("/", None)):
        try:
            _, headers, _ = get(status_page, path, auth)
        except urllib.error.HTTPError as refusal:  # the 401 without the password
            assert refusal.code == 401
            headers = refusal.headers
        assert headers["X-Frame-Options"] == "DENY", path
        assert headers["Content-Security-Policy"] == "frame-ancestors 'none'", path
