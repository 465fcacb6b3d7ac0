"""flashjig.hardware.host: the Pi as the kernel describes it, from files laid out as a Pi 4
has them (the device tree's NUL-terminated strings, millidegrees), and None for what a
machine lacks."""

from flashjig.hardware import host


def test_a_pi_as_its_kernel_files_say(tmp_path, monkeypatch):
    tree = tmp_path / "device-tree"
    tree.mkdir()
    (tree / "model").write_bytes(b"Raspberry Pi 4 Model B Rev 1.5\x00")
    (tree / "serial-number").write_bytes(b"10000000abcdef01\x00")
    net = tmp_path / "net"
    (net / "eth0").mkdir(parents=True)
    (net / "eth0" / "address").write_text("dc:a6:32:01:02:03\n")
    temp = tmp_path / "temp"
    temp.write_text("48312\n")
    monkeypatch.setattr(host, "DEVICE_TREE", tree)
    monkeypatch.setattr(host, "NETWORK", net)
    monkeypatch.setattr(host, "THERMAL_ZONE", temp)
    assert host.model() == "Raspberry Pi 4 Model B Rev 1.5"
    assert host.serial_number() == "10000000abcdef01"
    assert host.mac_address() == "dc:a6:32:01:02:03"
    assert host.cpu_temperature_c() == 48.3
    assert host.free_megabytes(tmp_path) > 0


def test_what_a_machine_lacks_is_none(tmp_path, monkeypatch):
    monkeypatch.setattr(host, "DEVICE_TREE", tmp_path / "none")
    monkeypatch.setattr(host, "NETWORK", tmp_path / "none")
    monkeypatch.setattr(host, "THERMAL_ZONE", tmp_path / "none")
    assert host.model() is host.serial_number() is host.mac_address() is None
    assert host.cpu_temperature_c() is None
    assert host.free_megabytes(tmp_path / "none") is None
