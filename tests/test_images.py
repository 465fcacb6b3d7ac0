"""Images are checked before any module is touched."""

import pytest

from flashjig.config import ImageSpec, Profile
from flashjig.errors import ImageError
from flashjig.flashing.images import load_images


def profile(*specs):
    return Profile(name="p", images=tuple(specs))


def test_pinned_sha256_mismatch_is_refused(firmware_1m):
    with pytest.raises(ImageError, match=r"demo\.bin: sha256 is [0-9a-f]{64}, the profile pins"):
        load_images(profile(ImageSpec(0, firmware_1m, "0" * 64)))


def test_matching_sha256_loads(firmware_1m):
    import hashlib

    digest = hashlib.sha256(firmware_1m.read_bytes()).hexdigest()
    (image,) = load_images(profile(ImageSpec(0, firmware_1m, digest)))
    assert image.sha256 == digest and image.end == 0x100000


def test_boot_image_must_be_a_valid_esp8266_image(tmp_path):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00" * 4096)
    with pytest.raises(ImageError, match="junk.bin: not a valid ESP8266 boot image"):
        load_images(profile(ImageSpec(0, junk, None)))


def test_data_images_elsewhere_are_not_parsed(tmp_path):
    data = tmp_path / "data.bin"
    data.write_bytes(b"\x00" * 4096)
    (image,) = load_images(profile(ImageSpec(0x3FC000, data, None)))
    assert image.offset == 0x3FC000


def test_header_params_are_patched_and_compression_is_cached(firmware_1m):
    (image,) = load_images(profile(ImageSpec(0, firmware_1m, None)))
    data = image.for_module("dio", "80m", "4MB")
    assert data[2] == 2 and data[3] == 0x4F
    assert data[4:] == firmware_1m.read_bytes()[4:]
    assert image.compressed(data) is image.compressed(data)
