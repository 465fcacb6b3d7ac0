"""``flashjig probe``: check a built station socket by socket, with a person at the jig.

It lists the serial devices and reads the detect switches and the button, then walks the
sockets in turn: the socket's LED blinks, the person seats a module and presses the button,
and the probe powers the socket, straps the module into its ROM bootloader and reads its MAC
over the socket's serial port (the flash pipeline's own connect, nothing is written). Every
wait has a timeout: a person who walks away ends the probe with failures, not a hang.

With --simulate the same steps run against emulated hardware, and the probe plays the person:
it seats an emulated module and presses the simulated button itself.
"""

from __future__ import annotations

import argparse
import os
import select
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import serial
from esptool.util import FatalError
from gpiozero import Button

from flashjig.cli.common import Subparsers, config_path
from flashjig.cli.hardware_choice import choose_hardware
from flashjig.config import Config, SocketConfig, load_config
from flashjig.errors import ConfigError, ExitCode
from flashjig.flashing import esplog
from flashjig.flashing.esptool_internals import close_port
from flashjig.flashing.pipeline import connect as connect_rom  # the pipeline's, on its own
from flashjig.flashing.result import Failure, Reason
from flashjig.hardware.base import Hardware
from flashjig.hardware.header import header_pin, pin_problems
from flashjig.hardware.leds import Look
from flashjig.hardware.socket_lines import POWER_OFF_S, SocketLines
from flashjig.hardware.strapping import Straps
from flashjig.hardware.usb import tx_held_low

if TYPE_CHECKING:
    from flashjig.simulation.hardware import SimulatedHardware

STEP_S = 60.0  # a person's time to seat a module, or to press the button
SIM_STEP_S = 5.0
SIM_PAUSE_S = 0.2  # the simulated person, between seating a module and pressing the button


def add_parser(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    pr = sub.add_parser(
        "probe",
        parents=[common],
        help="check the built station socket by socket, with a person at the jig",
        description="List serial devices and pin states, then for each socket: blink its LED, "
        "wait for a module to be seated and the button pressed, and ask the module's ROM "
        "bootloader for its MAC. Every wait times out. Exit 0 when every socket passes.",
    )
    pr.add_argument(
        "--simulate",
        action="store_true",
        help="emulated hardware: the probe seats the modules and presses the button itself",
    )
    pr.add_argument("--yes", action="store_true", help="do not ask before driving the pins")
    pr.set_defaults(handler=run_probe)


@dataclass
class Report:
    """What one socket showed; None for a check the socket has nothing to check with."""

    socket: str
    detect: bool | None = None
    button: bool | None = None
    serial: str | None = None  # the serial device, when it is there
    mac: str | None = None  # set when the ROM bootloader answered
    silent_unpowered: bool | None = None  # power off: no answer (None: no power switch)
    boots: bool | None = None  # GPIO0 released: no ROM answer, it runs its firmware
    problem: str = ""

    @property
    def passed(self) -> bool:
        seen = self.detect is not False and self.button is not False
        wired = self.silent_unpowered is not False and self.boots is not False
        return seen and wired and self.serial is not None and self.mac is not None

    def verdict(self) -> str:
        def seen(flag: bool | None) -> str:
            return "n/a" if flag is None else "ok" if flag else "not seen"

        def works(flag: bool | None) -> str:
            return "n/a" if flag is None else "ok" if flag else "FAILS"

        rom = f"answered (MAC {self.mac})" if self.mac else "no answer"
        checks = (
            f"detect switch {seen(self.detect)}, button {seen(self.button)}, "
            f"serial {self.serial or 'missing'}, power off {works(self.silent_unpowered)}, "
            f"GPIO0 release {works(self.boots)}, ROM bootloader {rom}"
        )
        if self.passed:
            return f"{self.socket}: pass: {checks}"
        return f"{self.socket}: FAIL: {checks}" + (f": {self.problem}" if self.problem else "")


class _Rig:
    """gpiozero devices on every pin of the station, on the hardware the station's own are
    made on: the Pi's, or the simulation's mock pins."""

    def __init__(self, config: Config, hardware: Hardware) -> None:
        self.sockets: dict[str, SocketLines] = {}
        self.button: Button | None = None
        try:
            if config.station.button is not None:
                self.button = Button(config.station.button, pin_factory=hardware.pin_factory)
            for s in config.sockets:
                self.sockets[s.name] = SocketLines.on(hardware, s)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        for lines in self.sockets.values():
            if lines.power is not None:
                lines.power.off()
            lines.close()
        if self.button is not None:
            self.button.close()


class Person(Protocol):
    """Whoever seats the modules: someone at the jig, or the probe itself (simulated)."""

    def seat(self, socket: SocketConfig, button: bool) -> None: ...


class _Person:
    """Someone at the jig, told on the terminal what to do."""

    def seat(self, socket: SocketConfig, button: bool) -> None:
        then = ", then press the button" if button else ""
        print(f"  seat a module in {socket.name}{then}", flush=True)


class _SimulatedPerson:
    """The probe itself, seating an emulated module and pressing the simulated button."""

    def __init__(self, hardware: SimulatedHardware) -> None:
        self.hardware = hardware

    def seat(self, socket: SocketConfig, button: bool) -> None:
        print(f"  (simulated) seating a module in {socket.name}", flush=True)

        def act() -> None:
            self.insert(socket)
            if button:
                time.sleep(SIM_PAUSE_S)
                self.hardware.press()

        threading.Thread(target=act, name=f"probe-{socket.name}", daemon=True).start()

    def insert(self, socket: SocketConfig) -> None:
        self.hardware.insert(socket.name)


def _pin(name: str) -> str:
    return f"{name} (pin {header_pin(name)})"


def _confirm(path: Path) -> bool:
    """Ask before driving real pins; no answer within STEP_S is a no."""
    if not sys.stdin.isatty():
        print("flashjig probe: no terminal to ask: pass --yes to go on", file=sys.stderr)
        return False
    print(
        f"probe drives the GPIO0, EN, power and LED pins that {path} names: stop "
        "flashjig.service first. Go on? [y/N] ",
        end="",
        flush=True,
    )
    ready, _, _ = select.select([sys.stdin], [], [], STEP_S)
    if not ready:
        print()
        return False
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def _list_serial(config: Config, hardware: Hardware) -> None:
    """Every serial device with its stable names, and the sockets whose device is missing."""
    from serial.tools import list_ports

    aliases: dict[str, list[str]] = {}
    for link in [*Path("/dev/serial/by-path").glob("*"), *Path("/dev").glob("flashjig-socket*")]:
        aliases.setdefault(os.path.realpath(link), []).append(str(link))
    owners = {os.path.realpath(s.serial): s.name for s in config.sockets}
    ports = sorted(list_ports.comports(), key=lambda port: port.device)
    print("serial devices:" if ports else "serial devices: none")
    for port in ports:
        real = os.path.realpath(port.device)
        owner = f"  <- {owners[real]}" if real in owners else ""
        print(f"  {port.device}  {port.description}{owner}")
        for alias in sorted(aliases.get(real, [])):
            print(f"      {alias}")
    for name, missing in hardware.absent_ports().items():
        print(f"  {name}: {missing} is not there")


def _show_pins(config: Config, rig: _Rig) -> None:
    print("pins:")
    if rig.button is not None and config.station.button is not None:
        state = "pressed" if rig.button.is_pressed else "released"
        print(f"  button {_pin(config.station.button)}: {state}")
    for s in config.sockets:
        detect = rig.sockets[s.name].detect
        if detect is None or s.detect is None:
            print(f"  {s.name}: no detect switch")
        else:
            state = "closed (module seated)" if detect.is_active else "open (empty)"
            print(f"  {s.name}: detect {_pin(s.detect)} {state}")


def _ask_rom(socket: SocketConfig, port: str, rig: _Rig, report: Report) -> None:
    """Talk to the module in the states the wiring puts it in: unpowered it must not answer;
    powered and strapped, its ROM bootloader gives its MAC; with GPIO0 released it runs its
    firmware and the ROM must not answer. Each answer that should not come is a wiring
    fault: a power switch that does not switch (or TX back-powering the module), a GPIO0
    line stuck low."""
    lines = rig.sockets[socket.name]
    esplog.install()
    try:
        with esplog.socket_context(socket.name):
            if lines.power is not None:
                with tx_held_low(port):  # as in a power cycle: TX must not feed it
                    time.sleep(POWER_OFF_S)
                report.silent_unpowered = _silent(port, lines.straps, strap=True)
                if not report.silent_unpowered:
                    report.problem = "the module answers with its power off"
                    return
            lines.power_on()
            esp = connect_rom(port, lines.straps)
            try:
                report.mac = ":".join(f"{b:02x}" for b in esp.read_mac())
            finally:
                close_port(esp)
            lines.straps.run_firmware()
            report.boots = _silent(port, lines.straps, strap=False)
            if not report.boots:
                report.problem = "the ROM still answers with GPIO0 released: is GPIO0 stuck low?"
    except Failure as e:
        report.problem = e.detail
    except (FatalError, serial.SerialException, OSError) as e:
        report.problem = f"reading the MAC: {e}"
    finally:
        if lines.power is not None:
            lines.power.off()
        else:
            lines.straps.run_firmware()


def _silent(port: str, straps: Straps, *, strap: bool) -> bool:
    """No answer from a ROM bootloader on one sync attempt."""
    try:
        close_port(connect_rom(port, straps, attempts=1, strap=strap))
    except Failure as e:
        return e.reason is Reason.NO_SYNC
    return False


def _walk(
    socket: SocketConfig,
    rig: _Rig,
    person: Person,
    port: Callable[[SocketConfig], str | None],
    timeout: float,
) -> Report:
    """One socket: blink, wait for the person, talk to the module, show the result."""
    report = Report(socket.name)
    light = rig.sockets[socket.name].light
    has_led = any((socket.led.red, socket.led.green, socket.led.blue))
    print(f"{socket.name}: " + ("its LED is blinking" if has_led else "(no LED)"), flush=True)
    light.follow(lambda: Look.BUSY)
    detect = rig.sockets[socket.name].detect
    opened = True  # the switch must be seen open, then closed
    if detect is not None and detect.is_active:
        print(f"  {socket.name} reads seated: take its module out", flush=True)
        opened = detect.wait_for_inactive(timeout)
    person.seat(socket, rig.button is not None)
    if detect is not None and socket.detect is not None:
        report.detect = opened and detect.wait_for_active(timeout)
        if not opened:
            state = f"stuck closed (not open within {timeout:g} s)"
        else:
            state = "closed" if report.detect else f"still open after {timeout:g} s"
        print(f"  detect switch {_pin(socket.detect)}: {state}", flush=True)
    if rig.button is not None:
        report.button = rig.button.wait_for_press(timeout)
        print(f"  button: {'pressed' if report.button else f'no press in {timeout:g} s'}")
    report.serial = port(socket)
    if report.serial is None:
        report.problem = f"no serial device {socket.serial}"
    else:
        _ask_rom(socket, report.serial, rig, report)
    rom = f"answered, MAC {report.mac}" if report.mac else report.problem
    print(f"  ROM bootloader: {rom}", flush=True)
    light.follow(lambda: Look.GOOD if report.passed else Look.OFF)  # as for a flashed module
    return report


def run_probe(args: argparse.Namespace) -> int:
    path = config_path(args)
    try:
        config = load_config(path, check_files=False)  # nothing is flashed: images may be absent
    except ConfigError as e:
        print(f"flashjig probe: {e}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    if problems := pin_problems(config):
        for problem in problems:
            print(f"flashjig probe: {path}: {problem}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    if not args.simulate and not args.yes and not _confirm(path):
        return ExitCode.BAD_INPUT
    hardware: Hardware | None = None
    try:
        hardware = choose_hardware(config, args)  # as the daemon's: the header's GPIO chip
        rig = _Rig(config, hardware)
    except Exception as e:  # pin busy (is the service running?), no GPIO chip, no pin factory
        print(f"flashjig probe: cannot claim the station's pins: {e}", file=sys.stderr)
        if hardware is not None:
            hardware.close()
        return ExitCode.FAILED
    try:
        return _probe(config, rig, hardware, simulated=args.simulate)
    finally:
        rig.close()
        hardware.close()


def _probe(config: Config, rig: _Rig, hardware: Hardware, *, simulated: bool) -> int:
    person: Person
    if not simulated:
        _list_serial(config, hardware)
        person, timeout = _Person(), STEP_S

        def port(s: SocketConfig) -> str | None:
            return None if s.name in hardware.absent_ports() else hardware.port(s.name)

    else:
        from flashjig.simulation.hardware import SimulatedHardware

        assert isinstance(hardware, SimulatedHardware)  # choose_hardware's, with --simulate
        print("serial devices: simulated, a pseudo terminal per seated module")
        person, timeout = _SimulatedPerson(hardware), SIM_STEP_S
        emulated = hardware

        def port(s: SocketConfig) -> str | None:
            module = emulated.modules.get(s.name)
            return module.device if module is not None else None

    _show_pins(config, rig)
    reports = [_walk(s, rig, person, port, timeout) for s in config.sockets]
    print()
    for report in reports:
        print(report.verdict())
    return ExitCode.OK if all(report.passed for report in reports) else ExitCode.FAILED
