"""``web``: where the status page listens, and the password it needs beyond loopback."""

import pytest
from test_config_loader import BASE, load_error, write

from flashjig.config import load_config


@pytest.fixture
def path(tmp_path):
    (tmp_path / "fw").mkdir()
    (tmp_path / "fw" / "boot.bin").write_bytes(b"\xe9" * 0x1800)
    (tmp_path / "fw" / "app.bin").write_bytes(b"\x00" * 0x2000)
    (tmp_path / "web-password").write_text("s3cret\n")
    return tmp_path / "station.yaml"


def test_no_web_section_no_page(path):
    assert load_config(write(path, BASE)).web is None


def test_loopback_needs_no_password_and_beyond_it_one_is_given(path):
    web = load_config(write(path, BASE + "web: {listen: 127.0.0.1:8080}\n")).web
    assert (web.host, web.port, web.password_file) == ("127.0.0.1", 8080, None)
    text = BASE + "web: {listen: '0.0.0.0:8443', user: bench, password_file: web-password}\n"
    web = load_config(write(path, text)).web
    assert (web.host, web.port, web.user, web.password_file.name) == (
        "0.0.0.0",
        8443,
        "bench",
        "web-password",
    )


@pytest.mark.parametrize(
    ("web", "field", "why"),
    [
        ("{listen: '0.0.0.0:8080'}", "web.password_file", "give it a password_file"),
        ("{listen: '8080'}", "web.listen", "expected HOST:PORT"),
        ("{listen: 'localhost:99999'}", "web.listen", "expected HOST:PORT"),
        ("{listen: ':8080'}", "web.listen", "expected HOST:PORT"),
        ("{listen: '0.0.0.0:80', password_file: nope}", "web.password_file", "file not found"),
        ("{port: 8080}", "web.port", "unknown key"),
    ],
)
def test_a_page_that_cannot_or_must_not_listen_is_refused(path, web, field, why):
    err = load_error(path, BASE + f"web: {web}\n")
    assert err.field == field, str(err)
    assert why in str(err)


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"caf\xe9\n", "is not UTF-8 text (byte 3 is 0xe9)"),
        (b"\n", "the first line is blank"),
        (b"", "the first line is blank"),
        (b"   \nsecond\n", "the first line is blank"),
    ],
)
@pytest.mark.parametrize("section", ["web", "mqtt"])
def test_a_password_file_the_station_cannot_use_is_refused_at_load(path, content, why, section):
    """Read as its users read it, when the config loads: before, a file that was not UTF-8
    crashed the daemon at start (or killed it on a reload), and a blank one was a password
    that anyone sending none would match."""
    (path.parent / "password").write_bytes(content)
    sections = {
        "web": "web: {listen: '0.0.0.0:8443', password_file: password}\n",
        "mqtt": "mqtt: {host: localhost, username: bench, password_file: password}\n",
    }
    err = load_error(path, BASE + sections[section])
    assert err.field == f"{section}.password_file", str(err)
    assert why in str(err) and "\n" not in str(err)


def test_the_password_is_the_first_line_without_spaces_or_line_ending(path):
    from flashjig.config.passwords import read_password

    (path.parent / "password").write_bytes(b" s3cret word \r\nignored\n")
    assert read_password(path.parent / "password") == "s3cret word"


def test_commands_from_the_page_need_the_password_on_loopback_too(path):
    assert load_config(write(path, BASE + "web: {listen: 127.0.0.1:8080}\n")).web.commands is False
    text = BASE + "web: {listen: 127.0.0.1:8080, commands: true, password_file: web-password}\n"
    assert load_config(write(path, text)).web.commands is True
    error = load_error(path, BASE + "web: {listen: 127.0.0.1:8080, commands: true}\n")
    assert error.field == "web.commands" and "need a password_file, on loopback too" in str(error)
