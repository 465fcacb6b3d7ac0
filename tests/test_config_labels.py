"""``station.labels``: the printer, when to print and the layout, each refused with its
field named when it cannot work."""

import pytest
from test_config_loader import BASE, edit, load_error, write

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
