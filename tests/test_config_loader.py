"""Tests for flashjig.config: the shipped config, a full valid config, and located errors."""

from pathlib import Path

import pytest

from flashjig.config import (
    Config,
    ImageSpec,
    LedPins,
    StationConfig,
    load_config,
    parse_config,
)
from flashjig.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
SHA = "ABCDEF0123456789" * 4

BASE = f"""\
station:
  id: test-bench
  button: GPIO3
active_profile: demo
profiles:
  demo:
    baud: 460800
    flash_mode: DIO
    flash_size: 1mb
    verify: yes
    images:
      - offset: 0x0
        file: fw/boot.bin
      - offset: "0x10000"
        file: fw/app.bin
        sha256: {SHA}
sockets:
  - name: s1
    serial: /dev/ttyUSB0
    gpio0: gpio4
    en: BCM17
    detect: 27
    led: {{red: BOARD15, green: GPIO10}}
  - name: s2
    serial: /dev/ttyUSB1
    gpio0: GPIO5
    en: GPIO6
"""


def edit(text: str, old: str, new: str) -> str:
    """Replace exactly one occurrence, so a stale snippet fails loudly, not silently."""
    assert text.count(old) == 1, f"snippet {old!r} occurs {text.count(old)} times"
    return text.replace(old, new)


def line_of(text: str, snippet: str) -> int:
    """1-based line of the single line containing snippet."""
    hits = [i for i, line in enumerate(text.splitlines(), 1) if snippet in line]
    assert len(hits) == 1, f"snippet {snippet!r} on lines {hits}"
    return hits[0]


@pytest.fixture
def station(tmp_path: Path) -> Path:
    """BASE written to a directory with real images: boot.bin is 0x1800 bytes, app.bin 0x2000."""
    fw = tmp_path / "fw"
    fw.mkdir()
    (fw / "boot.bin").write_bytes(b"\xe9" * 0x1800)
    (fw / "app.bin").write_bytes(b"\x00" * 0x2000)
    return write(tmp_path / "station.yaml", BASE)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def load_error(path: Path, text: str, **kwargs: bool) -> ConfigError:
    write(path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path, **kwargs)
    return info.value


def assert_located(err: ConfigError, path: Path, line: int, field: str, *fragments: str) -> None:
    """The message must name the file, the line and the field path, in that order, on one line."""
    msg = str(err)
    assert "\n" not in msg
    assert msg.startswith(f"{path}:{line}: {field}: "), msg
    assert path.name in msg
    assert (err.line, err.field) == (line, field)
    for fragment in fragments:
        assert fragment in msg, msg


# -- valid configs --------------------------------------------------------------------------


def test_shipped_config_loads_with_five_sockets() -> None:
    cfg = load_config(ROOT / "config" / "flashjig.yaml", check_files=False)
    assert [s.name for s in cfg.sockets] == [f"socket{n}" for n in range(1, 6)]
    assert cfg.station == StationConfig(id="bench-1", button="GPIO3")
    assert cfg.socket("socket1").boot == "GPIO4"
    assert cfg.socket("socket1").en == "GPIO9"
    assert cfg.socket("socket1").detect == "GPIO2"
    assert cfg.socket("socket1").led == LedPins(green="GPIO21")
    assert cfg.socket("socket1").power == "GPIO16"
    assert cfg.socket("socket5").led == LedPins(green="GPIO25")
    pins = [cfg.station.button]
    for s in cfg.sockets:
        pins += [s.boot, s.en, s.detect, s.led.green, s.power]
        assert s.power_active_low is False  # an NPN drives the P-MOSFET: high = on
        assert s.serial.endswith(f"usb-0:1.1.{s.name[-1]}:1.0-port0")
    assert all(p is not None and p.startswith("GPIO") for p in pins)
    assert len(set(pins)) == 26
    prof = cfg.profile
    assert cfg.active_profile == "demo"
    assert (prof.baud, prof.flash_mode, prof.flash_freq, prof.flash_size, prof.verify) == (
        921600,
        "dout",
        "40m",
        "detect",
        True,
    )
    assert prof.images == (ImageSpec(0, ROOT / "config" / "firmware" / "demo.bin", None),)


def test_valid_config_loads_and_normalises(station: Path) -> None:
    cfg = load_config(station)
    assert isinstance(cfg, Config)
    assert cfg.path == station
    prof = cfg.profile
    assert prof.name == "demo"
    assert (prof.baud, prof.flash_mode, prof.flash_freq) == (460800, "dio", "keep")
    assert (prof.flash_size, prof.verify) == ("1MB", True)
    assert prof.images == (
        ImageSpec(0x0, station.parent / "fw" / "boot.bin", None),
        ImageSpec(0x10000, station.parent / "fw" / "app.bin", SHA.lower()),
    )
    s1 = cfg.socket("s1")
    assert (s1.boot, s1.en, s1.detect) == ("GPIO4", "GPIO17", "GPIO27")
    assert s1.led == LedPins(red="GPIO22", green="GPIO10")  # BOARD15 is BCM 22
    s2 = cfg.socket("s2")
    assert (s2.detect, s2.led) == (None, LedPins())


def test_relative_image_path_is_relative_to_config_dir_not_cwd(
    station: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(station.parent / "fw")
    cfg = load_config(Path("..") / station.name)
    assert cfg.profile.images[1].path == station.parent / "fw" / "app.bin"
    assert cfg.profile.images[1].path.is_absolute()


def test_station_and_active_profile_may_be_omitted(station: Path) -> None:
    text = edit(BASE, "station:\n  id: test-bench\n  button: GPIO3\nactive_profile: demo\n", "")
    cfg = parse_config(text, station)
    assert cfg.station == StationConfig()
    assert cfg.active_profile == "demo"


def test_unknown_socket_lookup_names_known_sockets(station: Path) -> None:
    cfg = parse_config(BASE, station)
    with pytest.raises(ConfigError, match="s1, s2"):
        cfg.socket("s9")


def test_parse_config_matches_load_config(station: Path) -> None:
    assert parse_config(BASE, station) == load_config(station)


# -- located errors -------------------------------------------------------------------------


def test_unknown_key_suggests_closest(station: Path) -> None:
    text = edit(BASE, "    gpio0: GPIO5\n", "    gpoi0: GPIO5\n")
    err = load_error(station, text)
    assert_located(
        err,
        station,
        line_of(text, "gpoi0"),
        "sockets[1].gpoi0",
        "unknown key 'gpoi0'",
        "did you mean 'gpio0'?",
    )


def test_unknown_top_level_key(station: Path) -> None:
    text = BASE + "socket:\n  - name: s3\n"
    err = load_error(station, text)
    assert_located(err, station, line_of(text, "socket:"), "socket", "did you mean 'sockets'?")


def test_wrong_type_names_expected_type(station: Path) -> None:
    text = edit(BASE, "baud: 460800", "baud: fast")
    err = load_error(station, text)
    assert_located(
        err,
        station,
        line_of(text, "baud:"),
        "profiles.demo.baud",
        "expected an integer",
        "'fast'",
    )


def test_bool_is_not_an_offset(station: Path) -> None:
    text = edit(BASE, "offset: 0x0", "offset: no")
    err = load_error(station, text)
    assert_located(
        err,
        station,
        line_of(text, "offset: no"),
        "profiles.demo.images[0].offset",
        "expected an integer",
        "boolean",
    )


def test_quoted_bool_is_not_a_bool(station: Path) -> None:
    text = edit(BASE, "verify: yes", 'verify: "yes"')
    err = load_error(station, text)
    assert_located(err, station, line_of(text, "verify"), "profiles.demo.verify", "boolean")


def test_missing_image_file(station: Path) -> None:
    text = edit(BASE, "file: fw/app.bin", "file: fw/missing.bin")
    err = load_error(station, text)
    expected = station.parent / "fw" / "missing.bin"
    assert_located(
        err,
        station,
        line_of(text, "missing.bin"),
        "profiles.demo.images[1].file",
        f"image file not found: {expected}",
    )


def test_missing_image_file_allowed_without_check_files(station: Path) -> None:
    text = edit(BASE, "file: fw/app.bin", "file: fw/missing.bin")
    cfg = parse_config(text, station, check_files=False)
    assert cfg.profile.images[1].path == station.parent / "fw" / "missing.bin"


def test_image_must_be_regular_file(station: Path) -> None:
    text = edit(BASE, "file: fw/app.bin", "file: ./fw")
    err = load_error(station, text)
    assert_located(
        err,
        station,
        line_of(text, "./fw"),
        "profiles.demo.images[1].file",
        f"image file is not a regular file: {station.parent / 'fw'}",
    )


def test_pin_used_twice_names_both_uses(station: Path) -> None:
    text = edit(BASE, "en: GPIO6", "en: GPIO17")
    err = load_error(station, text)
    assert_located(
        err,
        station,
        line_of(text, "en: GPIO17"),
        "sockets[1].en",
        "GPIO17 is used twice: sockets[0].en and sockets[1].en",
    )


def test_pin_reuse_detected_across_spellings_and_station_button(station: Path) -> None:
    # BOARD5 is BCM 3, the station button (declared earlier in the file).
    text = edit(BASE, "led: {red: BOARD15, green: GPIO10}", "led: {red: BOARD15, blue: BOARD5}")
    err = load_error(station, text)
    assert_located(
        err,
        station,
        line_of(text, "blue: BOARD5"),
        "sockets[0].led.blue",
        "GPIO3 is used twice: station.button and sockets[0].led.blue",
    )


def test_pin_reuse_reports_later_line_even_if_station_comes_last(station: Path) -> None:
    body = edit(BASE, "station:\n  id: test-bench\n  button: GPIO3\n", "")
    text = body + "station:\n  button: 17\n"
    err = load_error(station, text)
    assert_located(
        err,
        station,
        line_of(text, "button: 17"),
        "station.button",
        "GPIO17 is used twice: sockets[0].en and station.button",
    )


@pytest.mark.parametrize(
    ("pin", "reason"),
    [
        ("BOARD6", "BOARD6 is a GND pin, not a GPIO"),
        ("BOARD1", "BOARD1 is a 3V3 pin"),
        ("GPIO28", "outside the usable BCM range 0..27"),
        ("BOARD41", "not on the 40-pin header"),
        ("PIN4", "invalid pin 'PIN4'"),
    ],
)
def test_bad_pins(station: Path, pin: str, reason: str) -> None:
    text = edit(BASE, "gpio0: GPIO5", f"gpio0: {pin}")
    err = load_error(station, text)
    assert_located(err, station, line_of(text, f"gpio0: {pin}"), "sockets[1].gpio0", reason)


def test_unaligned_offset(station: Path) -> None:
    text = edit(BASE, 'offset: "0x10000"', "offset: 0x1800")
    err = load_error(station, text)
    assert_located(
        err,
        station,
        line_of(text, "0x1800"),
        "profiles.demo.images[1].offset",
        "offset 0x1800 is not aligned to a 4 KiB sector",
    )


def test_negative_offset(station: Path) -> None:
    text = edit(BASE, 'offset: "0x10000"', "offset: -4096")
    err = load_error(station, text)
    assert_located(
        err, station, line_of(text, "-4096"), "profiles.demo.images[1].offset", "negative"
    )


def test_overlapping_images(station: Path) -> None:
    # boot.bin is 0x1800 bytes at 0x0, so an image at 0x1000 overlaps its tail.
    text = edit(BASE, 'offset: "0x10000"', "offset: 0x1000")
    err = load_error(station, text)
    assert_located(
        err,
        station,
        line_of(text, "offset: 0x1000"),
        "profiles.demo.images[1]",
        "overlaps images[0]",
        "0x0-0x17ff",
        "boot.bin",
    )


def test_adjacent_images_do_not_overlap(station: Path) -> None:
    text = edit(BASE, 'offset: "0x10000"', "offset: 0x2000")
    assert load_config(write(station, text)).profile.images[1].offset == 0x2000


def test_same_offset_overlaps_even_without_files(station: Path) -> None:
    text = edit(BASE, 'offset: "0x10000"', "offset: 0x0")
    text = edit(text, "file: fw/app.bin", "file: fw/not-built-yet.bin")
    with pytest.raises(ConfigError) as info:
        parse_config(text, station, check_files=False)
    # The error points at the second image's mapping, which starts on its offset line.
    assert_located(
        info.value,
        station,
        line_of(text, "not-built-yet") - 1,
        "profiles.demo.images[1]",
        "overlaps images[0]",
        "at 0x0",
    )


def test_image_must_fit_fixed_flash_size(station: Path) -> None:
    text = edit(BASE, 'offset: "0x10000"', "offset: 0xff000")  # 0x2000 bytes past 1MB - 4 KiB
    err = load_error(station, text)
    assert_located(
        err, station, line_of(text, "0xff000"), "profiles.demo.images[1]", "does not fit in 1MB"
    )


def test_bad_sha256(station: Path) -> None:
    text = edit(BASE, f"sha256: {SHA}", "sha256: deadbeef")
    err = load_error(station, text)
    assert_located(
        err, station, line_of(text, "deadbeef"), "profiles.demo.images[1].sha256", "64 hex"
    )


def test_bad_active_profile(station: Path) -> None:
    text = edit(BASE, "active_profile: demo", "active_profile: dmeo")
    err = load_error(station, text)
    assert_located(
        err,
        station,
        line_of(text, "dmeo"),
        "active_profile",
        "unknown profile 'dmeo'",
        "did you mean 'demo'?",
    )


def test_active_profile_required_with_several_profiles(station: Path) -> None:
    text = edit(BASE, "active_profile: demo\n", "")
    text = edit(text, "profiles:\n", "profiles:\n  other:\n    images: [{offset: 0, file: fw/a}]\n")
    with pytest.raises(ConfigError) as info:
        parse_config(text, station, check_files=False)
    assert_located(info.value, station, 1, "active_profile", "other, demo")


def test_yaml_syntax_error(station: Path) -> None:
    text = edit(BASE, "    en: GPIO6\n", "    en: [GPIO6\n")
    err = load_error(station, text)
    msg = str(err)
    # PyYAML reports the unclosed flow sequence where it ran out of input: the end of the file.
    line = len(text.splitlines()) + 1
    assert msg.startswith(f"{station}:{line}: YAML syntax error: "), msg
    assert f"started on line {line_of(text, 'en: [GPIO6')}" in msg
    assert err.line == line


def test_yaml_syntax_error_line(station: Path) -> None:
    text = edit(BASE, "    flash_mode: DIO\n", "    flash_mode: DIO: x\n")
    err = load_error(station, text)
    assert str(err).startswith(f"{station}:{line_of(text, 'DIO: x')}: YAML syntax error: ")
    assert "mapping values are not allowed" in str(err)


def test_duplicate_socket_name(station: Path) -> None:
    text = edit(BASE, "name: s2", "name: s1")
    err = load_error(station, text)
    lines = [i for i, line in enumerate(text.splitlines(), 1) if "name: s1" in line]
    assert_located(
        err, station, lines[1], "sockets[1].name", "duplicate socket name 's1'", "sockets[0]"
    )


def test_duplicate_serial(station: Path) -> None:
    text = edit(BASE, "serial: /dev/ttyUSB1", "serial: /dev/ttyUSB0")
    err = load_error(station, text)
    lines = [i for i, line in enumerate(text.splitlines(), 1) if "/dev/ttyUSB0" in line]
    assert_located(err, station, lines[1], "sockets[1].serial", "also used by sockets[0]")


def test_duplicate_yaml_key(station: Path) -> None:
    text = edit(BASE, "    en: GPIO6\n", "    en: GPIO6\n    en: GPIO7\n")
    err = load_error(station, text)
    assert_located(err, station, line_of(text, "en: GPIO7"), "sockets[1].en", "duplicate key")


def test_missing_required_key_reported_at_parent_mapping(station: Path) -> None:
    text = edit(BASE, "    en: GPIO6\n", "")
    err = load_error(station, text)
    assert_located(
        err, station, line_of(text, "name: s2"), "sockets[1].en", "missing required key 'en'"
    )


def test_no_sockets(station: Path) -> None:
    text = BASE[: BASE.index("sockets:")] + "sockets: []\n"
    err = load_error(station, text)
    assert_located(err, station, line_of(text, "sockets: []"), "sockets", "at least one socket")


def test_no_profiles(station: Path) -> None:
    start, end = BASE.index("profiles:"), BASE.index("sockets:")
    text = BASE[:start] + "profiles: {}\n" + BASE[end:]
    err = load_error(station, text)
    assert_located(err, station, line_of(text, "profiles: {}"), "profiles", "at least one")


def test_bad_enum_value(station: Path) -> None:
    text = edit(BASE, "flash_mode: DIO", "flash_mode: doubt")
    err = load_error(station, text)
    assert_located(
        err, station, line_of(text, "doubt"), "profiles.demo.flash_mode", "did you mean 'dout'?"
    )


def test_unreadable_file_is_config_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError, match="cannot read config file") as info:
        load_config(missing)
    assert str(info.value).startswith(f"{missing}: ")


def test_empty_file(station: Path) -> None:
    err = load_error(station, "# nothing here\n")
    assert str(err) == f"{station}:1: config is empty"


def test_a_power_switch_without_power_active_low_is_refused(station: Path) -> None:
    """No default for the switch's polarity: a wrong guess powers every empty socket."""
    text = edit(BASE, "    en: GPIO6\n", "    en: GPIO6\n    power: GPIO20\n")
    err = load_error(station, text)
    assert_located(
        err, station, line_of(text, "power: GPIO20"), "sockets[1].power_active_low", "required"
    )
    fixed = edit(text, "    power: GPIO20\n", "    power: GPIO20\n    power_active_low: false\n")
    station.write_text(fixed)
    assert load_config(station).socket("s2").power_active_low is False


@pytest.mark.parametrize(
    ("written", "seconds"), [("0x10", 16.0), ("1:30.5", 90.5), ("1_000", 1000.0), ("2.5", 2.5)]
)
def test_timings_are_read_as_yaml_reads_numbers(station: Path, written: str, seconds: float):
    """YAML 1.1 numbers (hex, sexagesimal, underscores) are numbers, not a crash."""
    text = edit(BASE, "  button: GPIO3\n", f"  button: GPIO3\n  hold_time: {written}\n")
    station.write_text(text)
    assert load_config(station).station.hold_time == seconds


@pytest.mark.parametrize("written", [".inf", ".nan", "-.inf"])
def test_a_timing_that_is_no_finite_number_is_refused(station: Path, written: str):
    text = edit(BASE, "  button: GPIO3\n", f"  button: GPIO3\n  settle_time: {written}\n")
    err = load_error(station, text)
    assert_located(err, station, line_of(text, "settle_time"), "station.settle_time", "finite")


@pytest.mark.slow
def test_yaml_nested_thousands_deep_is_one_line(station: Path):
    err = load_error(station, "station: " + "[" * 20000 + "]" * 20000 + "\n")
    assert str(err) == f"{station}: YAML nested too deep to be a config"


def test_a_serial_range_beyond_sqlites_integers_is_refused(station: Path):
    text = edit(BASE, "  button: GPIO3\n", f"  button: GPIO3\n  serial_range: [1, {2**63}]\n")
    err = load_error(station, text)
    assert_located(err, station, line_of(text, "serial_range"), "station.serial_range[1]", "64-bit")


@pytest.mark.parametrize("baud", [0, -115200, 10_000_000])
def test_a_boot_check_baud_out_of_range_is_refused(station: Path, baud: int):
    text = edit(
        BASE,
        "    verify: yes\n",
        f"    verify: yes\n    boot_check: {{pattern: ready, baud: {baud}}}\n",
    )
    err = load_error(station, text)
    assert_located(
        err, station, line_of(text, "boot_check"), "profiles.demo.boot_check.baud", "300 to"
    )


IDENTITY = "    verify: yes\n"


def with_identity(identity: str) -> str:
    return edit(BASE, IDENTITY, f"{IDENTITY}    identity: {identity}\n")


@pytest.mark.parametrize(
    "template", ["{serial.__class__}", "{serial[0]}", "{mac!r}", "{0}", "{serial:{mac}}"]
)
def test_a_template_with_more_than_plain_fields_is_refused(station: Path, template: str):
    text = with_identity(f"{{mode: record, offset: 0xF0000, template: '{template}'}}")
    err = load_error(station, text)
    assert_located(
        err, station, line_of(text, "identity:"), "profiles.demo.identity.template", "not allowed"
    )


def test_a_template_with_format_specs_is_fine(station: Path):
    station.write_text(
        with_identity("{mode: record, offset: 0xF0000, template: 'n-{serial:05d}-{mac}'}")
    )
    assert load_config(station).profile.identity.template == "n-{serial:05d}-{mac}"


def test_a_client_id_longer_than_its_placeholder_is_refused(station: Path):
    text = with_identity(
        "{mode: placeholder, placeholder: '@@ID@@', template: 'node-{serial:03d}'}"
    )
    err = load_error(station, text)
    assert_located(
        err,
        station,
        line_of(text, "identity:"),
        "profiles.demo.identity.template",
        "'node-999999' (11 bytes, serial 999999) does not fit its placeholder (6 bytes)",
    )


@pytest.mark.parametrize(
    ("offset", "words"),
    [
        ("0x1000", "overlaps images[0]"),
        ("0x10000", "overlaps images[1]"),
        ("0x100000", "beyond 1MB"),
    ],
)
def test_a_unit_record_over_an_image_or_off_the_flash_is_refused(station: Path, offset, words):
    text = with_identity(f"{{mode: record, offset: {offset}}}")
    err = load_error(station, text)
    assert_located(err, station, line_of(text, "identity:"), "profiles.demo.identity.offset", words)


@pytest.mark.parametrize("offset", ["0x1000000000000000000000000000000", "0x7FFFF000", "0x1000000"])
@pytest.mark.parametrize("size", ["detect", "keep"])
def test_a_unit_record_beyond_any_flash_is_refused_whatever_the_size(station: Path, offset, size):
    """With flash_size detect or keep the loader knows no size, yet no module has more
    than 16 MB: a record (or an image) past that is a typo, refused at load."""
    text = edit(with_identity(f"{{mode: record, offset: {offset}}}"), "1mb", size)
    err = load_error(station, text)
    assert_located(
        err, station, line_of(text, "identity:"), "profiles.demo.identity.offset", "beyond 16MB"
    )
    text = edit(edit(BASE, "1mb", size), 'offset: "0x10000"', f"offset: {offset}")
    err = load_error(station, text)
    assert_located(
        err, station, line_of(text, offset), "profiles.demo.images[1].offset", "beyond 16MB"
    )


def test_one_serial_device_spelled_two_ways_is_refused(station: Path, tmp_path: Path):
    text = edit(BASE, "serial: /dev/ttyUSB1", "serial: /dev//ttyUSB0")
    err = load_error(station, text)
    assert_located(err, station, line_of(text, "/dev//ttyUSB0"), "sockets[1].serial", "also used")
    target = tmp_path / "ttyUSB7"
    target.touch()
    (tmp_path / "flashjig-socket1").symlink_to(target)
    text = edit(BASE, "serial: /dev/ttyUSB0", f"serial: {tmp_path / 'flashjig-socket1'}")
    text = edit(text, "serial: /dev/ttyUSB1", f"serial: {target}")
    err = load_error(station, text)
    assert_located(
        err, station, line_of(text, f"serial: {target}"), "sockets[1].serial", "also used"
    )


# -- MQTT over TLS: files that are not what they should be ---------------------------------


def _self_signed(directory: Path, name: str) -> tuple[Path, Path]:
    import subprocess

    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", f"/CN={name}", "-keyout", f"{name}.key", "-out", f"{name}.crt"],
        cwd=directory, check=True, capture_output=True,
    )  # fmt: skip
    return directory / f"{name}.crt", directory / f"{name}.key"


def test_tls_files_are_loaded_as_the_client_will(station: Path) -> None:
    """A CA file that is no certificate, a client certificate with another's key: refused
    when the config is loaded (the daemon refuses the reload), naming the field."""
    directory = station.parent
    cert, key = _self_signed(directory, "client")
    _, other_key = _self_signed(directory, "other")
    (directory / "ca.crt").write_text("this is not a certificate\n")
    mqtt = "mqtt:\n  host: broker.local\n  tls:\n    ca_file: ca.crt\n"
    text = BASE + mqtt
    err = load_error(station, text)
    assert_located(err, station, line_of(text, "ca_file"), "mqtt.tls.ca_file", "not a PEM")

    good_ca = "    ca_file: client.crt\n"
    text = BASE + mqtt.replace("    ca_file: ca.crt\n", good_ca)
    tls = load_config(write(station, text)).mqtt.tls  # a real certificate loads
    assert tls.ca_file == directory / "client.crt"
    pair = f"    cert_file: {cert.name}\n    key_file: {other_key.name}\n"
    text = BASE + mqtt.replace("    ca_file: ca.crt\n", good_ca + pair)
    err = load_error(station, text)
    assert_located(
        err, station, line_of(text, "cert_file"), "mqtt.tls.cert_file", "do not load together"
    )
    right = f"    cert_file: {cert.name}\n    key_file: {key.name}\n"
    tls = load_config(write(station, BASE + mqtt.replace("    ca_file: ca.crt\n", right))).mqtt.tls
    assert (tls.cert_file, tls.key_file) == (cert, key)  # the pair that belongs together loads


def test_a_station_id_with_an_underscore_is_refused(station: Path) -> None:
    """bench_1 and bench-1 would be one device in Home Assistant (its ids take '_' for
    '-'): the id that could be another's is refused."""
    text = edit(BASE, "id: test-bench", "id: test_bench")
    err = load_error(station, text)
    assert_located(err, station, line_of(text, "id: test_bench"), "station.id", "no '_'")
    assert load_config(write(station, BASE)).station.id == "test-bench"


def test_the_fast_sync_rate_and_rom_change_default_on_and_can_be_set(station: Path) -> None:
    settings = load_config(station).station
    assert (settings.sync_baud, settings.rom_baud_change) == (460800, True)
    text = edit(BASE, "  id: test-bench\n", "  id: test-bench\n  sync_baud: 115200\n")
    write(station, edit(text, "  id: test-bench\n", "  id: test-bench\n  rom_baud_change: no\n"))
    settings = load_config(station).station
    assert (settings.sync_baud, settings.rom_baud_change) == (115200, False)


def test_a_sync_rate_no_rom_takes_is_refused_where_it_is(station: Path) -> None:
    text = edit(BASE, "  id: test-bench\n", "  id: test-bench\n  sync_baud: 1500000\n")
    err = load_error(station, text)
    assert_located(
        err, station, line_of(text, "sync_baud"), "station.sync_baud", "115200, 230400, 460800"
    )
