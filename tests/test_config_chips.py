"""The chip a socket holds and the images a profile has per chip: the boot line by its
role (``boot``, ``gpio0`` still read), ``chip`` per socket and per profile, ``images`` as a
list or a mapping of chip to list, and the errors those can make, each located."""

from pathlib import Path

import pytest
from test_config_loader import BASE, assert_located, edit, line_of, load_error, write

from flashjig.config import load_config

MIXED = """\
    images:
      esp8266:
        - offset: 0x0
          file: fw/boot.bin
      esp32c3:
        - offset: 0x0
          file: fw/c3-boot.bin
        - offset: 0x10000
          file: fw/app.bin
"""
LIST = """\
    images:
      - offset: 0x0
        file: fw/boot.bin
      - offset: "0x10000"
        file: fw/app.bin
        sha256: ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789
"""


@pytest.fixture
def fw(tmp_path: Path) -> Path:
    (tmp_path / "fw").mkdir()
    for name, size in (("boot.bin", 0x1800), ("c3-boot.bin", 0x5000), ("app.bin", 0x2000)):
        (tmp_path / "fw" / name).write_bytes(b"\xe9" * size)
    return tmp_path / "station.yaml"


def test_old_and_new_names_of_the_boot_line_load_alike(fw):
    old = load_config(write(fw, BASE))
    new = load_config(write(fw, BASE.replace("gpio0:", "boot:")))
    assert old.socket("s1").boot == new.socket("s1").boot == "GPIO4"
    assert (old.socket("s1").boot_key, new.socket("s1").boot_key) == ("gpio0", "boot")


def test_both_names_of_the_boot_line_are_refused(fw):
    text = edit(BASE, "    gpio0: GPIO5\n", "    gpio0: GPIO5\n    boot: GPIO5\n")
    err = load_error(fw, text)
    assert_located(err, fw, line_of(text, "gpio0: GPIO5"), "sockets[1].gpio0", "keep one")


def test_a_socket_without_a_boot_line_is_refused(fw):
    text = edit(BASE, "    gpio0: GPIO5\n", "")
    err = load_error(fw, text)
    assert err.field == "sockets[1].boot"
    assert "missing required key 'boot'" in str(err)


def test_socket_chip_defaults_to_esp8266_and_takes_auto(fw):
    text = edit(BASE, "    gpio0: GPIO5\n", "    gpio0: GPIO5\n    chip: auto\n")
    cfg = load_config(write(fw, text))
    assert (cfg.socket("s1").chip, cfg.socket("s2").chip) == ("esp8266", "auto")


def test_an_unknown_socket_chip_is_refused_with_a_suggestion(fw):
    text = edit(BASE, "    gpio0: GPIO5\n", "    gpio0: GPIO5\n    chip: esp32-c3\n")
    err = load_error(fw, text)
    assert_located(err, fw, line_of(text, "chip: esp32-c3"), "sockets[1].chip", "esp32c3")


def test_images_per_chip(fw):
    cfg = load_config(write(fw, edit(BASE, LIST, MIXED)))
    profile = cfg.profile
    assert profile.chips == ("esp8266", "esp32c3")
    assert [i.path.name for i in profile.images_for("esp32c3")] == ["c3-boot.bin", "app.bin"]
    assert [i.chip for i in profile.images] == ["esp8266", "esp32c3", "esp32c3"]
    assert profile.images_for("esp32") == ()


def test_a_list_of_images_is_for_the_profiles_chip(fw):
    text = edit(BASE, "    images:\n", "    chip: esp32\n    images:\n")
    text = text.replace("    en: ", "    chip: esp32\n    en: ")
    cfg = load_config(write(fw, text))
    assert cfg.profile.chips == ("esp32",)
    assert {s.chip for s in cfg.sockets} == {"esp32"}


def test_images_overlap_only_within_one_chip(fw):
    """The ESP8266's boot image and the C3's bootloader both start at 0x0: two chips' images
    are never on one module. Within one chip the overlap is refused."""
    load_config(write(fw, edit(BASE, LIST, MIXED)))
    text = edit(BASE, LIST, MIXED.replace("0x10000", "0x4000"))
    err = load_error(fw, text)
    assert err.field == "profiles.demo.images.esp32c3[1]"
    assert "overlaps images[0]" in str(err)


def test_an_unknown_chip_in_images_is_refused(fw):
    text = edit(BASE, LIST, MIXED.replace("      esp32c3:", "      esp32c2:"))
    err = load_error(fw, text)
    assert_located(err, fw, line_of(text, "esp32c2:"), "profiles.demo.images.esp32c2")
    assert "did you mean 'esp32c3'" in str(err)


def test_profile_chip_with_images_per_chip_is_refused(fw):
    text = edit(BASE, LIST, "    chip: esp32\n" + MIXED)
    err = load_error(fw, text)
    assert_located(err, fw, line_of(text, "chip: esp32"), "profiles.demo.chip", "each list")


def test_rf_init_needs_esp8266_images(fw):
    text = edit(BASE, "    images:\n", "    chip: esp32c3\n    rf_init: auto\n    images:\n")
    text = text.replace("    en: ", "    chip: auto\n    en: ")
    err = load_error(fw, text)
    assert_located(err, fw, line_of(text, "rf_init: auto"), "profiles.demo.rf_init", "ESP8266")


def test_a_socket_whose_chip_the_active_profile_lacks_is_refused(fw):
    text = edit(BASE, "    images:\n", "    chip: esp32c3\n    images:\n")
    err = load_error(fw, text)
    assert err.field == "sockets[0].chip"
    assert "has images for esp32c3 only" in str(err)
    fixed = text.replace("    gpio0: GPIO5\n", "    gpio0: GPIO5\n    chip: auto\n")
    fixed = fixed.replace("    gpio0: gpio4\n", "    gpio0: gpio4\n    chip: esp32c3\n")
    cfg = load_config(write(fw, fixed))
    assert [s.chip for s in cfg.sockets] == ["esp32c3", "auto"]


# -- unit identity per chip -----------------------------------------------------------------

C3_ONLY = BASE.replace("    images:\n", "    chip: esp32c3\n    images:\n").replace(
    "    en: ", "    chip: esp32c3\n    en: "
)


def with_identity(text: str, identity: str) -> str:
    return edit(text, "    images:\n", f"    identity: {identity}\n    images:\n")


def test_an_esp32_unit_record_needs_no_offset(fw):
    cfg = load_config(write(fw, with_identity(C3_ONLY, "{mode: record}")))
    assert cfg.profile.identity.offset is None
    assert cfg.profile.identity.namespace == "flashjig"


def test_with_esp8266_images_a_unit_record_needs_its_offset(fw):
    text = with_identity(edit(BASE, LIST, MIXED), "{mode: record}")
    err = load_error(fw, text)
    assert_located(err, fw, line_of(text, "identity:"), "profiles.demo.identity.offset")


def test_placeholder_identity_is_refused_for_esp32_images(fw):
    text = with_identity(C3_ONLY, "{mode: placeholder, placeholder: '@@CLIENT_ID_HERE@@'}")
    err = load_error(fw, text)
    assert err.field == "profiles.demo.identity.mode"
    assert "use mode 'record'" in str(err)


def test_nvs_fields_are_read_and_checked(fw):
    csv = fw.parent / "fields.csv"
    csv.write_text("key,type,encoding,value\nhostname,data,string,lamp-{serial:04d}\n")
    text = with_identity(C3_ONLY, "{mode: record, namespace: unit, nvs_fields: fields.csv}")
    identity = load_config(write(fw, text)).profile.identity
    assert identity.nvs_entries == (("hostname", "string", "lamp-{serial:04d}"),)
    assert identity.namespace == "unit"
    for bad, why in (
        ("hostname,data,float,1.5\n", "encoding one of"),
        ("a_key_far_too_long,data,u8,1\n", "is not 1 to 15"),
        ("host,data,string,{serial.real}\n", "is not allowed"),
        ("host,data\n", "columns key,type,encoding,value"),
    ):
        csv.write_text("key,type,encoding,value\n" + bad)
        err = load_error(fw, text)
        assert err.field == "profiles.demo.identity.nvs_fields"
        assert why in str(err) and "fields.csv line 2" in str(err)


def test_a_namespace_longer_than_nvs_takes_is_refused(fw):
    text = with_identity(C3_ONLY, "{mode: record, namespace: a_namespace_too_long}")
    err = load_error(fw, text)
    assert err.field == "profiles.demo.identity.namespace"


def test_one_chip_named_twice_in_images_is_refused(fw):
    text = edit(BASE, LIST, MIXED.replace("      esp32c3:", "      ESP8266:"))
    err = load_error(fw, text)
    assert_located(err, fw, line_of(text, "ESP8266:"), "profiles.demo.images.ESP8266")
    assert "second list" in str(err)
