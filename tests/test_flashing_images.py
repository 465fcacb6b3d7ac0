"""A profile's images, read and checked before any module is touched; each module's header
patched in, and the compressed stream made once per station, not per module."""

import zlib

import pytest
from helpers import job_for, seated

from flashjig.config import ImageSpec, Profile
from flashjig.errors import ImageError
from flashjig.flashing.images import load_images
from flashjig.flashing.pipeline import flash
from flashjig.simulation.hardware import ModuleSpec, SimulatedHardware


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
    with pytest.raises(ImageError, match=r"junk.bin \(written at 0x0\): not a valid ESP8266 boot"):
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


@pytest.mark.slow
def test_compression_is_done_once_per_station_not_per_module(station_config, monkeypatch):
    # Two modules whose detected sizes give two different image headers.
    modules = {"socket1": ModuleSpec("1MB"), "socket2": ModuleSpec("2MB")}
    compressions = []
    real = zlib.compressobj

    def counting(*args, **kwargs):
        compressions.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(zlib, "compressobj", counting)
    with SimulatedHardware(station_config, modules=modules) as hw:
        (image,) = load_images(station_config.profile)
        for socket in ("socket1", "socket2"):
            with seated(station_config, hw, socket) as lines:
                job = job_for(station_config, hw, socket, lines, images=(image,))
                assert flash(job).ok
        headers = {hw.modules[s].flash.read(3, 1)[0] >> 4 for s in ("socket1", "socket2")}
        assert headers == {2, 3}  # 1 MB and 2 MB headers
    # The body once, and each header's first sector once.
    assert len(compressions) == 3


def test_split_stream_inflates_to_the_image(firmware_1m, make_config):
    config = make_config([(0, firmware_1m)], flash_size="4MB", flash_mode="dio")
    (image,) = load_images(config.profile)
    data = image.for_module("dio", "40m", "4MB")
    stream = image.compressed(data)
    assert zlib.decompress(stream) == data  # checks the adler32 trailer too
    inflater = zlib.decompressobj()  # block by block, as the stub receives it
    out = b"".join(
        inflater.decompress(stream[i : i + 0x4000]) for i in range(0, len(stream), 0x4000)
    )
    assert out == data and inflater.eof and not inflater.unused_data
    assert len(stream) < len(zlib.compress(data, 9)) * 1.001


def image_end(data: bytes) -> int:
    """Where the ESP8266 image's segments end (its checksum's block follows)."""
    import struct

    position = 8
    for _ in range(data[1]):  # the header's segment count
        _, size = struct.unpack_from("<II", data, position)
        position += 8 + size
    return position


def test_an_image_cut_right_after_its_last_segment_is_refused(tmp_path, firmware_1m):
    data = firmware_1m.read_bytes()
    cut = tmp_path / "cut.bin"
    cut.write_bytes(data[: image_end(data)])
    with pytest.raises(ImageError, match=r"cut.bin: not a valid ESP8266 boot image: .*ends early"):
        load_images(profile(ImageSpec(0, cut, None)))


def test_an_image_with_a_wrong_segment_checksum_is_refused_before_any_erase(tmp_path, firmware_1m):
    """The ROM checks it before it jumps in: written and verified, it would never boot."""
    data = bytearray(firmware_1m.read_bytes())
    end = image_end(bytes(data))
    data[end + 15 - end % 16] ^= 0x5A  # the checksum byte
    bad = tmp_path / "bad.bin"
    bad.write_bytes(bytes(data))
    with pytest.raises(ImageError, match="bad.bin: segment checksum is .* refuse to boot it"):
        load_images(profile(ImageSpec(0, bad, None)))


# -- ESP32-family images -------------------------------------------------------------------


@pytest.fixture(scope="module", params=["esp32c3", "esp32", "esp32s3"])
def idf_build(request, tmp_path_factory):
    """An IDF-like build for the chip, its files by offset."""
    from flashjig.emulator.firmware import build_esp32_firmware

    folder = tmp_path_factory.mktemp(request.param)
    files = {}
    for offset, data in build_esp32_firmware(request.param).items():
        files[offset] = folder / f"{offset:x}.bin"
        files[offset].write_bytes(data)
    return request.param, files


def specs(chip, files, replaced=None):
    replaced = replaced or {}
    return [
        ImageSpec(offset, replaced.get(offset, path), None, chip) for offset, path in files.items()
    ]


def test_an_idf_build_loads_for_its_chip(idf_build):
    chip, files = idf_build
    images = load_images(profile(*specs(chip, files)))
    assert [(i.offset, i.chip) for i in images] == [(offset, chip) for offset in files]


def test_a_build_for_another_chip_is_refused(idf_build):
    """The ESP32's bootloader given as the C3's (and the C3's as the ESP32's): the chip id
    in the extended header says whose it is."""
    chip, files = idf_build
    other = "esp32" if chip == "esp32c3" else "esp32c3"
    bootloader = min(files)
    with pytest.raises(ImageError, match=f"{bootloader:x}.bin: wrong chip: built for the ESP32"):
        load_images(
            profile(ImageSpec(0x1000 if other == "esp32" else 0, files[bootloader], None, other))
        )


@pytest.mark.parametrize("where", ["bootloader", "app"])
def test_a_damaged_image_is_refused(idf_build, tmp_path, where):
    """A flipped bit in a segment: the checksum (the ROM's and IDF's check) and the appended
    SHA-256 both catch it, in the bootloader and in the app."""
    chip, files = idf_build
    offset = min(files) if where == "bootloader" else 0x10000
    data = bytearray(files[offset].read_bytes())
    data[0x100] ^= 0x04
    bad = tmp_path / "bad.bin"
    bad.write_bytes(bytes(data))
    with pytest.raises(ImageError, match="bad.bin: (segment checksum|the SHA-256)"):
        load_images(profile(*specs(chip, files, {offset: bad})))


def test_a_rewritten_digest_is_refused(idf_build, tmp_path):
    chip, files = idf_build
    data = bytearray(files[0x10000].read_bytes())
    data[-1] ^= 0xFF  # the last byte of the appended SHA-256
    bad = tmp_path / "bad-digest.bin"
    bad.write_bytes(bytes(data))
    with pytest.raises(ImageError, match="the SHA-256 appended"):
        load_images(profile(*specs(chip, files, {0x10000: bad})))


def test_the_partition_table_is_no_image_and_passes(idf_build):
    chip, files = idf_build
    (table,) = load_images(profile(ImageSpec(0x8000, files[0x8000], None, chip)))
    assert table.data[:2] == b"\xaa\x50"
