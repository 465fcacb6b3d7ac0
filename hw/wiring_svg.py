"""Draw hw/wiring.svg from hw/pinmap.yaml, so the picture cannot drift from the pin map.

    .venv/bin/python hw/wiring_svg.py          # rewrites hw/wiring.svg
    .venv/bin/python hw/wiring_svg.py --check  # exit 1 if hw/wiring.svg is out of date

Plain SVG 1.1 (no scripts, no external fonts or images) so GitHub shows it as an image.
"""

import sys
from html import escape
from pathlib import Path

import yaml

from flashjig.hardware.header import J8_HEADER, header_pin
from flashjig.hardware.pinmap import PinMap, load_pinmap

HERE = Path(__file__).resolve().parent
WIDTH, HEIGHT = 1280, 1100
FONT = "DejaVu Sans, Verdana, Arial, sans-serif"
COLOURS = {
    "boot": "#d9480f",
    "en": "#7048e8",
    "detect": "#1971c2",
    "led": "#2b8a3e",
    "power": "#c92a2a",
    "button": "#212529",
    "3V3": "#e67700",
    "5V": "#a61e4d",
    "GND": "#495057",
    "free": "#adb5bd",
}
ROLES = {"boot": "GPIO0", "en": "EN", "detect": "detect", "led": "LED", "power": "power"}


class Svg:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def add(self, element: str) -> None:
        self.parts.append(element)

    def text(self, x, y, s, size=12, anchor="start", colour="#212529", weight="normal") -> None:
        self.add(
            f'<text x="{x}" y="{y}" font-size="{size}" text-anchor="{anchor}" '
            f'fill="{colour}" font-weight="{weight}">{escape(s)}</text>'
        )

    def line(self, *points, colour="#212529", width=1.5) -> None:
        coords = " ".join(f"{x},{y}" for x, y in points)
        self.add(
            f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="{width}"/>'
        )

    def rect(self, x, y, w, h, fill="none", stroke="#212529", rx=0) -> None:
        self.add(
            f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="{rx}" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="1.5"/>'
        )

    def dot(self, x, y, r=3, colour="#212529") -> None:
        self.add(f'<circle cx="{x}" cy="{y}" r="{r}" fill="{colour}"/>')

    # -- symbols ---------------------------------------------------------------------------

    def resistor_h(self, x1, x2, y, value, colour="#212529") -> None:
        """A resistor between (x1, y) and (x2, y), value above it."""
        mid = (x1 + x2) / 2
        self.line((x1, y), (mid - 18, y), colour=colour)
        self.rect(mid - 18, y - 6, 36, 12, fill="#fff", stroke=colour)
        self.line((mid + 18, y), (x2, y), colour=colour)
        self.text(mid, y - 10, value, size=11, anchor="middle")

    def resistor_v(self, x, y1, y2, value, colour="#212529", left=False) -> None:
        mid = (y1 + y2) / 2
        self.line((x, y1), (x, mid - 14), colour=colour)
        self.rect(x - 6, mid - 14, 12, 28, fill="#fff", stroke=colour)
        self.line((x, mid + 14), (x, y2), colour=colour)
        if value:
            if left:
                self.text(x - 9, mid + 4, value, size=11, anchor="end")
            else:
                self.text(x + 9, mid + 4, value, size=11)

    def ground(self, x, y) -> None:
        self.line((x - 9, y), (x + 9, y), width=2)
        self.line((x - 5, y + 4), (x + 5, y + 4), width=2)
        self.line((x - 2, y + 8), (x + 2, y + 8), width=2)

    def capacitor_v(self, x, y1, y2, value) -> None:
        mid = (y1 + y2) / 2
        self.line((x, y1), (x, mid - 3))
        self.line((x - 8, mid - 3), (x + 8, mid - 3), width=2.5)
        self.line((x - 8, mid + 3), (x + 8, mid + 3), width=2.5)
        self.line((x, mid + 3), (x, y2))
        self.text(x, y2 + 24, value, size=10, anchor="middle")

    def render(self) -> str:
        body = "\n".join(self.parts)
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
            f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="{FONT}">\n'
            f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>\n{body}\n</svg>\n'
        )


def uses(pinmap: PinMap) -> dict[int, tuple[str, str]]:
    """BCM number -> (role, label) for every wire of the pin map."""
    out: dict[int, tuple[str, str]] = {}
    if pinmap.button:
        out[int(pinmap.button[4:])] = ("button", "button")
    if pinmap.status_led:
        out[int(pinmap.status_led[4:])] = ("led", "station LED")
    for s in pinmap.sockets:
        pins = [("boot", s.boot), ("en", s.en), ("detect", s.detect), ("power", s.power)]
        pins += [("led", pin) for pin in (s.led.red, s.led.green, s.led.blue)]
        for role, pin in pins:
            if pin:
                out[int(pin[4:])] = (role, f"{s.name} {ROLES[role]}")
    return out


def draw_header(svg: Svg, pinmap: PinMap) -> None:
    used = uses(pinmap)
    x0, y0, step = 250, 104, 28
    title = "Raspberry Pi 40-pin header (J8), seen from above"
    svg.text(270, 58, title, 15, "middle", weight="bold")
    note = "pin 1 has the square pad; odd pins are the inner row; same on all four models"
    svg.text(270, 76, note, 11, "middle")
    svg.rect(x0 - 22, y0 - 16, 84, 20 * step + 4, fill="#f1f3f5", rx=6)
    for physical in range(1, 41):
        row, right = (physical - 1) // 2, physical % 2 == 0
        x, y = x0 + (40 if right else 0), y0 + row * step
        what = J8_HEADER[physical]
        if isinstance(what, str):
            role = what
            label = {"3V3": "3V3: not for modules", "5V": "5V", "GND": "GND"}[what]
        elif what in used:
            role, use = used[what]
            label = f"GPIO{what}  {use}"
        elif what in (0, 1):
            role, label = "free", f"GPIO{what}  HAT ID EEPROM: leave free"
        else:
            role, label = "free", f"GPIO{what}  free"
        colour = COLOURS[role]
        svg.add(f'<circle cx="{x}" cy="{y}" r="10" fill="{colour}"/>')
        svg.text(x, y + 4, str(physical), 10, "middle", "#ffffff", "bold")
        if right:
            svg.line((x + 10, y), (x + 22, y), colour=colour)
            svg.text(x + 26, y + 4, label, 12, "start", colour)
        else:
            svg.line((x - 22, y), (x - 10, y), colour=colour)
            svg.text(x - 26, y + 4, label, 12, "end", colour)


def draw_socket(svg: Svg, parts: dict) -> None:
    """One socket's circuit, its values from hw/circuit.yaml; the pin map table names the
    GPIOs of each socket."""
    gate = parts["gate"]
    svg.text(910, 62, "One socket (N = 1 to 5): every socket is wired the same", 15, "middle",
             weight="bold")  # fmt: skip
    # The Pi's pins and the USB-serial adapter, left.
    svg.rect(580, 150, 120, 290, fill="#f1f3f5", rx=6)
    svg.text(640, 170, "Raspberry Pi", 12, "middle", weight="bold")
    svg.text(640, 185, "(pin map below)", 10, "middle")
    svg.rect(580, 450, 120, 108, fill="#f1f3f5", rx=6)
    svg.text(640, 466, "USB-serial N", 12, "middle", weight="bold")
    svg.text(640, 479, "CP2102(N) / FT232R", 10, "middle")
    # The ESP-01S socket, right.
    svg.rect(1110, 140, 150, 418, fill="#fff9db", rx=6)
    svg.text(1185, 160, "ESP-01S socket N", 12, "middle", weight="bold")
    for y, name in ((210, "3V3"), (310, "EN"), (345, "GPIO0"), (490, "RX"), (515, "TX"),
                    (540, "GND")):  # fmt: skip
        svg.dot(1110, y)
        svg.text(1116, y + 4, name, 11)
    svg.text(1185, 390, "RST, GPIO2:", 10, "middle")
    svg.text(1185, 403, "not connected", 10, "middle")
    svg.text(1185, 416, "(pulled up on", 10, "middle")
    svg.text(1185, 429, "the module)", 10, "middle")
    svg.text(1185, 240, "GND GPIO2 GPIO0 RX", 9, "middle")
    svg.text(1185, 252, "TX  EN  RST  3V3", 9, "middle")
    svg.text(1185, 264, "(2x4 header rows)", 9, "middle")

    # Power switch: rail -> Q1 (P-MOSFET) -> fuse -> socket 3V3; Q2 (NPN) pulls Q1's gate
    # down through the series resistor; gate-source resistor and capacitor: the soft start.
    rail = COLOURS["3V3"]
    svg.line((740, 100), (1000, 100), colour=rail, width=3)
    svg.text(740, 94, "+3V3 modules: from the 3.3 V buck, not from the Pi", 11, colour=rail)
    svg.line((975, 100), (975, 118))
    svg.rect(945, 118, 60, 40, fill="#fff")
    svg.text(975, 135, "Q1", 11, "middle", weight="bold")
    svg.text(975, 149, parts["mosfet"]["part"], 9, "middle")
    svg.text(981, 114, "S", 9)
    svg.text(981, 170, "D", 9)
    svg.text(941, 134, "G", 9, "end")
    for x in (850, 915):
        svg.dot(x, 100)
        svg.dot(x, 138)
    svg.resistor_v(915, 100, 138, ohms(gate["source_ohms"]), left=True)
    svg.capacitor_v(850, 100, 138, "")
    svg.text(841, 123, f"{gate['capacitor_nf']}n", 10, "end")
    svg.line((850, 138), (945, 138))
    svg.resistor_v(915, 138, 190, ohms(gate["series_ohms"]))
    svg.rect(890, 190, 50, 36, fill="#fff")
    svg.text(915, 206, "Q2", 11, "middle", weight="bold")
    svg.text(915, 219, parts["npn"]["part"], 9, "middle")
    svg.text(921, 188, "C", 9)
    svg.text(921, 238, "E", 9)
    svg.line((915, 226), (915, 240))
    svg.ground(915, 240)
    power = COLOURS["power"]
    svg.text(694, 212, "power", 11, "end", colour=power)
    svg.resistor_h(700, 830, 208, ohms(gate["base_ohms"]), power)
    svg.line((830, 208), (890, 208))
    svg.text(886, 203, "B", 9, "end")
    svg.dot(830, 208)
    svg.resistor_v(830, 208, 268, ohms(gate["base_pull_down_ohms"]))
    svg.ground(830, 268)
    # Q1's drain, the fuse, the switched 3V3 with its capacitors and bleed resistor.
    fuse = parts["fuse"]
    svg.line((975, 158), (975, 164), colour=rail, width=2)
    svg.resistor_v(975, 164, 210, "", colour=rail)
    svg.text(966, 184, "fuse", 10, "end")
    svg.text(966, 196, f"{fuse['hold_a']:g} A", 10, "end")
    svg.text(900, 283, f"fuse: {fuse['part']} (polyfuse, {fuse['r1_max_ohms']:g} ohm max)",
             10, "middle")  # fmt: skip
    svg.line((975, 210), (1110, 210), colour=rail, width=2)
    for x, value in ((1005, "100µF"), (1040, "100n")):
        svg.dot(x, 210)
        svg.capacitor_v(x, 210, 250, value)
        svg.ground(x, 250)
    svg.dot(1075, 210)
    svg.resistor_v(1075, 210, 250, "")
    svg.ground(1075, 250)
    svg.text(1075, 274, str(parts["bleed_ohms"]), 10, "middle")

    # Strapping lines: 1k in series, the module's pull-ups take them high.
    for y, role, label in ((310, "en", "EN"), (345, "boot", "GPIO0")):
        colour = COLOURS[role]
        svg.text(706, y - 4, label, 11, colour=colour)
        svg.line((700, y), (860, y), colour=colour)
        svg.resistor_h(860, 940, y, "1k", colour)
        svg.line((940, y), (1110, y), colour=colour)
    # Detect switch to ground through its series resistor (hw/README.md: Detect switch).
    colour = COLOURS["detect"]
    svg.text(706, 381, "detect", 11, colour=colour)
    svg.line((700, 385), (860, 385), colour=colour)
    svg.resistor_h(860, 940, 385, ohms(parts["detect"]["series_ohms"]), colour)
    svg.line((940, 385), (965, 385), colour=colour)
    svg.dot(965, 385)
    svg.line((965, 385), (992, 372), colour=colour, width=2)
    svg.dot(995, 385)
    svg.line((995, 385), (1010, 385), (1010, 395))
    svg.ground(1010, 395)
    svg.text(980, 365, "microswitch", 10, "middle")
    # LED to ground.
    colour = COLOURS["led"]
    svg.text(706, 421, "LED", 11, colour=colour)
    svg.line((700, 425), (860, 425), colour=colour)
    svg.resistor_h(860, 940, 425, "330", colour)
    svg.line((940, 425), (960, 425), colour=colour)
    svg.add(f'<polygon points="960,417 960,433 976,425" fill="{colour}"/>')
    svg.line((977, 416), (977, 434), colour=colour, width=2.5)
    svg.line((977, 425), (1010, 425), (1010, 435))
    svg.ground(1010, 435)
    svg.text(968, 450, "green", 10, "middle")
    # Serial: adapter TXD -> 1k -> RX, TX -> 1k -> adapter RXD, GND.
    for y, a in ((490, "TXD"), (515, "RXD")):
        svg.text(694, y + 4, a, 11, "end")
        svg.line((700, y), (960, y))
        svg.resistor_h(960, 1040, y, "1k")
        svg.line((1040, y), (1110, y))
        arrow = (1080, 1090) if a == "TXD" else (1090, 1080)
        svg.add(
            f'<polygon points="{arrow[0]},{y - 5} {arrow[1]},{y} {arrow[0]},{y + 5}" '
            'fill="#212529"/>'
        )
    svg.text(694, 544, "GND", 11, "end")
    svg.line((700, 540), (1110, 540), colour=COLOURS["GND"], width=2)
    svg.text(905, 535, "common ground: Pi, buck, adapters, sockets", 10, "middle")


def ohms(value: float) -> str:
    """A resistor's label: 100k, 4.7k, 1k, 330."""
    return f"{value / 1000:g}k" if value >= 1000 else f"{value:g}"


def draw_table(svg: Svg, pinmap: PinMap) -> None:
    x0, y0, row = 560, 600, 24
    columns = (("socket", 80), ("GPIO0", 100), ("EN", 100), ("detect", 100), ("LED", 100),
               ("power", 100), ("serial", 120))  # fmt: skip
    svg.text(x0, y0 - 14, "Pin map (BCM name, header pin): hw/pinmap.yaml", 14, weight="bold")
    x = x0
    for name, width in columns:
        colour = COLOURS.get({"LED": "led", "GPIO0": "boot"}.get(name, name.lower()), "#212529")
        svg.text(x + 4, y0 + 6, name, 12, colour=colour, weight="bold")
        x += width
    svg.line((x0, y0 + 12), (x, y0 + 12), width=1)
    for i, s in enumerate(pinmap.sockets):
        y = y0 + 30 + i * row
        led = next(pin for pin in (s.led.green, s.led.red, s.led.blue) if pin)
        cells = [s.name, s.boot, s.en, s.detect, led, s.power]
        x = x0
        for (name, width), value in zip(columns, cells, strict=False):
            shown = value if name == "socket" else f"{value}  ({header_pin(value)})"
            svg.text(x + 4, y, shown, 12)
            x += width
        svg.text(x + 4, y, f"hub port {_ports(pinmap, s.name)[1]}", 12)
    y = y0 + 30 + len(pinmap.sockets) * row + 6
    svg.text(x0 + 4, y, f"button: {pinmap.button} (pin {header_pin(pinmap.button)}) to GND", 12,
             colour=COLOURS["button"], weight="bold")  # fmt: skip
    hub = _ports(pinmap, pinmap.sockets[0].name)[0]
    svg.text(x0 + 330, y, f"adapter N: /dev/flashjig-socketN (hub in Pi USB port 1-{hub})", 12)


def _ports(pinmap: PinMap, socket: str) -> tuple[str, str]:
    """(the hub's port chain, the socket's hub port) from its ID_PATH '...-usb-0:1.1.3:1.0'."""
    chain = pinmap.id_paths[socket].split("-usb-0:")[1].split(":")[0]
    hub, port = chain.rsplit(".", 1)
    return hub, port


def draw_power(svg: Svg) -> None:
    x0, y0 = 30, 690
    svg.text(x0, y0, "Power and USB", 15, weight="bold")
    boxes = (
        (x0, y0 + 20, "5 V, 2 A or more", "own wall supply"),
        (x0 + 170, y0 + 20, "3.3 V buck, 3.6 A", "Pololu D36V28F3"),
        (x0 + 340, y0 + 20, "+3V3 modules", "470 µF at the buck"),
    )
    for x, y, title, sub in boxes:
        svg.rect(x, y, 140, 48, fill="#fff4e6", stroke=COLOURS["3V3"], rx=6)
        svg.text(x + 70, y + 20, title, 12, "middle", weight="bold")
        svg.text(x + 70, y + 37, sub, 11, "middle")
    for x in (x0 + 140, x0 + 310):
        svg.line((x, y0 + 44), (x + 30, y0 + 44), colour=COLOURS["3V3"], width=2.5)
    notes = (
        "to Q1 of each socket; 5 x 300 mA peaks = 1.5 A: wire it in 0.5 mm² (20 AWG) or thicker",
        "buck GND to a Pi GND pin (6, 9, 14, ...): one common ground for GPIO and serial",
        "never from the Pi's 3V3 pins 1/17: they feed the Pi itself and brown it out",
        "the Pi has its own official supply (Pi 5: 27 W, Pi 4: 15 W, 3B+ and Zero 2 W: 2.5 A)",
    )
    for i, note in enumerate(notes):
        svg.text(x0, y0 + 92 + i * 18, note, 11)
    y = y0 + 180
    svg.rect(x0, y, 150, 48, fill="#e7f5ff", stroke=COLOURS["detect"], rx=6)
    svg.text(x0 + 75, y + 20, "Pi USB port 1-1.1", 12, "middle", weight="bold")
    svg.text(x0 + 75, y + 37, "(see lsusb -t)", 11, "middle")
    svg.line((x0 + 150, y + 24), (x0 + 180, y + 24), colour=COLOURS["detect"], width=2.5)
    svg.rect(x0 + 180, y, 150, 48, fill="#e7f5ff", stroke=COLOURS["detect"], rx=6)
    svg.text(x0 + 255, y + 20, "powered USB hub", 12, "middle", weight="bold")
    svg.text(x0 + 255, y + 37, "7 ports, own supply", 11, "middle")
    svg.line((x0 + 330, y + 24), (x0 + 360, y + 24), colour=COLOURS["detect"], width=2.5)
    svg.rect(x0 + 360, y, 150, 48, fill="#e7f5ff", stroke=COLOURS["detect"], rx=6)
    svg.text(x0 + 435, y + 20, "port N: adapter N", 12, "middle", weight="bold")
    svg.text(x0 + 435, y + 37, "CP2102(N) / FT232R", 11, "middle")
    rules = "udev names them /dev/flashjig-socket1..5 by port (systemd/99-flashjig.rules)"
    svg.text(x0, y + 70, rules, 11)


def draw_notes(svg: Svg, parts: dict) -> None:
    x0, y0 = 560, 800
    gate = parts["gate"]
    svg.text(x0, y0, "Why", 15, weight="bold")
    notes = (
        "GPIO0 and EN: the Pi pulls them low or lets go (input); the module's pull-ups take them",
        "high. 1k in series: firmware that drives GPIO0 high cannot short a Pi pin (3 mA at most).",
        "Power: Pi pin high -> Q2 on -> Q1's gate low -> socket powered (power_active_low: false).",
        f"Q1's gate: {ohms(gate['source_ohms'])} to source against {ohms(gate['series_ohms'])} "
        f"to Q2: at least 3 V of drive; {ohms(gate['series_ohms'])} with "
        f"{gate['capacitor_nf']}n: the soft start.",
        "The base pull-down keeps every socket off while the Pi boots, is off, or the service",
        f"is stopped. {parts['bleed_ohms']} ohm bleeds the socket to 0 V: a power-cycle is a "
        "real power-on reset,",
        "not the adapter's TX line holding the chip half-alive: no CH340 (it cannot hold TX low).",
        f"Detect: a microswitch the module's board presses when fully seated, to GND through "
        f"{ohms(parts['detect']['series_ohms'])};",
        "the Pi's pull-up reads it. Seated = closed = low. The socket is powered only after that.",
        "LED: one green LED per socket (3 mA): short blink seated, blinking flashing, steady ok,",
        "fast blink failed. A second colour would cost 5 pins the power switches need.",
        "Serial console off (raspi-config): GPIO14/15 are detect inputs here, not a UART.",
        f"TPS2553 in place of Q1/Q2: its EN takes the power pin, with "
        f"{ohms(parts['tps2553']['en_pull_down_ohms'])} EN to GND (off when released).",
        f"ESP32-C3 module: boot -> GPIO9, en -> EN (1k each); "
        f"{ohms(parts['esp32c3']['strap_pull_up_ohms'])} from GPIO2, GPIO8, GPIO9 and EN "
        "to the socket's switched 3V3.",
    )
    for i, note in enumerate(notes):
        svg.text(x0, y0 + 22 + i * 18, note, 11)


def render(pinmap: PinMap, parts: dict | None = None) -> str:
    parts = load_parts() if parts is None else parts
    svg = Svg()
    title = "flashjig: five ESP-01S sockets on a Raspberry Pi (3B+, 4, 5, Zero 2 W)"
    svg.text(WIDTH / 2, 28, title, 18, "middle", weight="bold")
    draw_header(svg, pinmap)
    draw_socket(svg, parts)
    draw_table(svg, pinmap)
    draw_power(svg)
    draw_notes(svg, parts)
    return svg.render()


def load_parts() -> dict:
    """hw/circuit.yaml: one socket's part values, the one place the text and this take them."""
    return yaml.safe_load((HERE / "circuit.yaml").read_text(encoding="utf-8"))


def main(argv: list[str]) -> int:
    text = render(load_pinmap(HERE / "pinmap.yaml"))
    out = HERE / "wiring.svg"
    if "--check" in argv:
        if out.read_text(encoding="utf-8") != text:
            print(f"{out} is out of date: run .venv/bin/python hw/wiring_svg.py", file=sys.stderr)
            return 1
        return 0
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
