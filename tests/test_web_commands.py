"""Commands from the status page (issue 29): off unless the config allows them, and then
only with the password, from the page's own origin, to the station's own names; carried
out by the station's one command set and refused in its words."""

import base64
import http.client
import json
import logging

from helpers import state_of, wait_for

from flashjig.station.status import SocketState
from flashjig.web import guard

PASSWORD = "s3cret"


def post(page, name, body=None, *, password=PASSWORD, headers=None, host=None):
    """POST /api/commands/NAME: (status, the JSON answer)."""
    link = http.client.HTTPConnection("127.0.0.1", page.port, timeout=10)
    sent = {"Content-Type": "application/json", **(headers or {})}
    if password is not None:
        token = base64.b64encode(f"flashjig:{password}".encode()).decode()
        sent["Authorization"] = f"Basic {token}"
    if host is not None:
        sent["Host"] = host
    link.request("POST", f"/api/commands/{name}", json.dumps(body or {}), sent)
    response = link.getresponse()
    data = response.read()
    link.close()
    try:
        return response.status, json.loads(data)
    except ValueError:
        return response.status, data.decode()


def test_flash_from_the_page_flashes_the_seated_socket(page):
    status_page, station, hardware = page(PASSWORD, commands=True)
    hardware.insert("socket1")
    wait_for(lambda: state_of(station, "socket1") is SocketState.INSERTED)
    assert post(status_page, "flash") == (200, {"ok": True, "started": ["socket1"]})
    wait_for(lambda: state_of(station, "socket1") is SocketState.OK, timeout=60, what="ok")


def test_refusals_are_the_command_sets_words(page):
    status_page, station, _ = page(PASSWORD, commands=True)
    assert post(status_page, "flash", {"socket": "socket9"}) == (
        409,
        {
            "ok": False,
            "error": "unknown socket 'socket9' (known: socket1, socket2, socket3, socket4, "
            "socket5)",
        },
    )
    assert post(status_page, "flash", {"socket": "socket2"}) == (
        200,
        {"ok": True, "started": [], "why": "socket2 is empty"},
    )
    assert post(status_page, "drain", {"why": "lunch"}) == (200, {"ok": True, "busy": []})
    assert station.status().paused == "lunch"
    assert post(status_page, "resume") == (200, {"ok": True})
    status, answer = post(status_page, "profile", {"name": "dmeo"})
    assert status == 409 and answer["error"].startswith("unknown profile 'dmeo'")
    # Only the page's commands: the simulated person's and a reload are not among them.
    assert post(status_page, "insert", {"socket": "socket1"})[0] == 404
    assert post(status_page, "reload")[0] == 404


def test_commands_turned_off_are_refused(page):
    status_page, station, hardware = page(PASSWORD)
    hardware.insert("socket1")
    wait_for(lambda: state_of(station, "socket1") is SocketState.INSERTED)
    status, answer = post(status_page, "flash")
    assert status == 403 and "web.commands" in answer["error"]
    assert state_of(station, "socket1") is SocketState.INSERTED


def test_a_post_from_another_origin_is_refused(page):
    status_page, station, hardware = page(PASSWORD, commands=True)
    hardware.insert("socket1")
    wait_for(lambda: state_of(station, "socket1") is SocketState.INSERTED)
    status, answer = post(status_page, "flash", headers={"Origin": "https://evil.example"})
    assert status == 403 and "another site" in answer["error"]
    # A plain cross-site form cannot send JSON: refused as well.
    assert post(status_page, "flash", headers={"Content-Type": "text/plain"})[0] == 415
    assert state_of(station, "socket1") is SocketState.INSERTED
    own = f"http://127.0.0.1:{status_page.port}"
    assert post(status_page, "cancel", headers={"Origin": own}) == (
        200,
        {"ok": True, "cancelled": []},
    )


def test_a_name_the_station_is_not_reached_by_is_refused(page):
    """DNS rebinding: another site's name pointed at the station is sent as its Host."""
    status_page, _, _ = page(PASSWORD, commands=True)
    assert post(status_page, "cancel", host="evil.example")[0] == 421
    assert post(status_page, "cancel", host=f"localhost:{status_page.port}")[0] == 200


def test_a_wrong_password_is_refused_logged_and_slowed(page, caplog, monkeypatch):
    status_page, station, hardware = page(PASSWORD, commands=True)
    slept = []
    real_delay = guard.LoginThrottle.delay

    def delay(self, address):
        slept.append(real_delay(self, address))
        return 0.0  # the test does not wait them out

    monkeypatch.setattr(guard.LoginThrottle, "delay", delay)
    hardware.insert("socket1")
    wait_for(lambda: state_of(station, "socket1") is SocketState.INSERTED)
    with caplog.at_level(logging.WARNING, logger="flashjig.web.server"):
        for _ in range(5):
            assert post(status_page, "flash", password="guess")[0] == 401
    assert state_of(station, "socket1") is SocketState.INSERTED
    assert slept == [0.0, 0.0, 0.5, 1.0, 2.0]
    assert "wrong password from 127.0.0.1 (5 in a row)" in caplog.text
    assert post(status_page, "flash", password=None)[0] == 401  # no password: none counted
    assert post(status_page, "cancel")[0] == 200  # the right one clears the count


def test_the_host_names_taken():
    assert guard.host_name("[::1]:8080") == "::1"
    assert guard.host_name("Bench.Local.:80") == "bench.local"
    assert guard.allowed_host("192.168.1.20:8080", "0.0.0.0")
    assert guard.allowed_host("localhost", "0.0.0.0")
    assert guard.allowed_host("jig.example:8080", "jig.example")
    assert not guard.allowed_host("evil.example", "0.0.0.0")
    assert not guard.allowed_host("", "0.0.0.0")
