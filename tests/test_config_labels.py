"""``station.labels``: the printer, when to print and the layout, each refused with its
field named when it cannot work; and a client id template no label can show."""

import pytest
from test_config_loader import (
    BASE,
    assert_located,
    edit,
    line_of,
    load_error,
    with_identity,
    write,
)

from flashjig.config import LabelLayout, load_config


def with_labels(text: str) -> str:
    return edit(BASE, "  button: GPIO3\n", "  button: GPIO3\n  labels:\n" + text)


@pytest.fixture
def path(tmp_path):
    (tmp_path / "fw").mkdir()
    (tmp_path / "fw" / "boot.bin").write_bytes(b"\xe9" * 0x1800)
    (tmp_path / "fw" / "app.bin").write_bytes(b"\x00" * 0x2000)
    return tmp_path / "station.yaml"


def test_labels_default_to_none_printed_and_a_62_by_29_layout(path):
    labels = load_config(write(path, BASE)).station.labels
    assert labels.print_on == "never" and labels.printer is None
    assert labels.layout == LabelLayout(62.0, 29.0)


def test_a_printer_and_a_layout(path):
    zebra = with_labels("    printer: {kind: zebra, device: 'tcp://[fd00::17]'}\n")
    assert load_config(write(path, zebra)).station.labels.printer.device == "tcp://[fd00::17]"
    text = with_labels(
        "    print_on: ok\n"
        "    printer: {kind: brother_ql, model: QL-820NWB, label: 62x29, device: tcp://ql:9100}\n"
        "    layout: {width_mm: 62, height_mm: 29, fields: [serial, mac], font_size: 9}\n"
    )
    labels = load_config(write(path, text)).station.labels
    assert labels.printer.kind == "brother_ql" and labels.printer.device == "tcp://ql:9100"
    assert labels.layout.fields == ("serial", "mac") and labels.layout.font_size == 9


@pytest.mark.parametrize(
    ("text", "field", "why"),
    [
        ("    print_on: ok\n", "station.labels.printer", "needs a printer"),
        ("    printer: {kind: zebra}\n", "station.labels.printer.device", "needs device"),
        ("    printer: {kind: cups}\n", "station.labels.printer.queue", "needs queue"),
        ("    printer: {kind: zebra, device: lp0}\n", "station.labels.printer.device", "tcp://"),
        (
            "    printer: {kind: zebra, device: 'tcp://127.0.0.1:99999'}\n",
            "station.labels.printer.device",
            "the port of 'tcp://127.0.0.1:99999' is not a TCP port (1 to 65535)",
        ),
        (
            "    printer: {kind: brother_ql, device: 'tcp://ql:0'}\n",
            "station.labels.printer.device",
            "not a TCP port (1 to 65535)",
        ),
        (
            "    printer: {kind: zebra, device: 'tcp://zebra:ninety'}\n",
            "station.labels.printer.device",
            "not a TCP port",
        ),
        (
            "    printer: {kind: zebra, device: 'tcp://:9100'}\n",
            "station.labels.printer.device",
            "expected tcp://host or tcp://host:port, got 'tcp://:9100'",
        ),
        (
            "    printer: {kind: zebra, device: 'tcp://zebra:9100/raw'}\n",
            "station.labels.printer.device",
            "expected tcp://host or tcp://host:port",
        ),
        (
            "    printer: {kind: brother_ql, device: /dev/usb/lp0, model: QL-801}\n",
            "station.labels.printer.model",
            "did you mean",
        ),
        ("    printer: {kind: dymo, device: /x}\n", "station.labels.printer.kind", "brother_ql"),
        ("    layout: {width_mm: 400}\n", "station.labels.layout.width_mm", "10 to 300"),
        ("    layout: {fields: [serial, colour]}\n", "station.labels.layout.fields[1]", "mac"),
        ("    layout: {dpi: 250}\n", "station.labels.layout.dpi", "203, 300 or 600"),
    ],
)
def test_what_cannot_print_is_refused(path, text, field, why):
    err = load_error(path, with_labels(text))
    assert err.field == field, str(err)
    assert why in str(err)


# -- the client id a label shows ------------------------------------------------------------


def test_a_client_id_no_qr_code_holds_is_refused(path):
    """A unit record takes 3072 bytes of client id, a label's QR code (error correction M)
    2331 bytes of payload, the other fields and the longest chip description included."""

    def template(length: int) -> str:
        return with_identity(
            f"{{mode: record, offset: 0xF0000, template: '{'x' * length}-{{serial}}'}}"
        )

    assert load_config(write(path, template(2000))).profile.identity.template.endswith("-{serial}")
    text = template(2200)
    err = load_error(path, text)
    assert_located(
        err,
        path,
        line_of(text, "identity:"),
        "profiles.demo.identity.template",
        "(2207 bytes, serial 999999) does not fit a label: no QR code holds its 2375 bytes at "
        "error correction M",
    )


def test_a_client_id_with_a_line_break_is_refused(path):
    text = with_identity('{mode: record, offset: 0xF0000, template: "lamp\\n{serial:04d}"}')
    err = load_error(path, text)
    assert_located(
        err,
        path,
        line_of(text, "identity:"),
        "profiles.demo.identity.template",
        "client id 'lamp\\n999999' has a line break: a label prints it on one",
    )
