"""The ``flashjig`` command: one subcommand per job, each with --config and --state-dir."""

import argparse
import logging
import sys
from pathlib import Path

from flashjig import __version__
from flashjig.emulator.faults import FAULT_NAMES
from flashjig.emulator.flashchip import SIZES

EXIT_OK = 0
EXIT_FAILED = 1  # the job ran and failed (a module not flashed)
EXIT_USAGE = 2  # bad command line or configuration


def _common() -> argparse.ArgumentParser:
    """Options every subcommand takes, anywhere after the subcommand's name."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FILE", type=Path, help="station configuration")
    common.add_argument("--state-dir", metavar="DIR", type=Path, help="journal and backups")
    return common


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="flashjig", description="Headless flashing station for ESP8266 modules."
    )
    parser.add_argument("--version", action="version", version=f"flashjig {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = _common()

    sim = sub.add_parser(
        "sim",
        parents=[common],
        help="serve emulated ESP8266 modules on pseudo terminals",
        description="Start N emulated ESP8266 modules waiting in download mode. Prints "
        "'NAME DEVICE' per module, then 'ready'; serves until SIGINT or SIGTERM.",
    )
    sim.add_argument("--modules", type=int, default=1, metavar="N")
    sim.add_argument("--flash-size", choices=list(SIZES), default="1MB")
    sim.add_argument(
        "--claimed-size",
        choices=list(SIZES),
        help="counterfeit: JEDEC id claims this size, addresses wrap at --flash-size",
    )
    sim.add_argument(
        "--line-rate",
        action="store_true",
        help="model wire time (10 bits/byte) and datasheet flash times",
    )

    fl = sub.add_parser(
        "flash",
        parents=[common],
        help="flash the active profile onto the module in one socket, once",
        description="Run the flash pipeline once for one socket and print one JSON object "
        "(socket, result, reason, mac, flash_size, bytes, duration_s, ...). Exit 0 only "
        "when the module is written and verified, 1 when it failed, 2 on bad input.",
    )
    fl.add_argument("--socket", required=True, metavar="NAME")
    fl.add_argument(
        "--simulate",
        action="store_true",
        help="mock pins and an emulated module in place of the socket's serial device",
    )
    fl.add_argument(
        "--sim-flash-size",
        choices=list(SIZES),
        default="1MB",
        help="with --simulate: flash size of the emulated module",
    )
    fl.add_argument("--line-rate", action="store_true", help="with --simulate: model wire time")

    demo = sub.add_parser(
        "demo",
        parents=[common],
        help="watch a simulated 5-socket station flash modules (start here)",
        description="A simulated station: modules are seated one by one, the button is "
        "pressed, and every socket flashes and verifies while you watch. Exit 0 when all "
        "modules are verified.",
    )
    demo.add_argument(
        "--fast", action="store_true", help="skip the line-rate model (finishes in seconds)"
    )

    run = sub.add_parser(
        "run",
        parents=[common],
        help="run the station (what systemd starts)",
        description="Run the station: watch sockets and the button, flash, journal every "
        "attempt. SIGHUP reloads the config, SIGTERM stops cleanly.",
    )
    run.add_argument(
        "--simulate",
        action="store_true",
        help="mock pins and emulated modules; drive them with 'flashjig ctl'",
    )
    run.add_argument("--line-rate", action="store_true", help="with --simulate: model wire time")
    run.add_argument("-v", "--verbose", action="store_true", help="log esptool's own lines too")

    st = sub.add_parser(
        "status",
        parents=[common],
        help="show the running station's sockets",
        description="Ask the running station for its state through its control socket.",
    )
    view = st.add_mutually_exclusive_group()
    view.add_argument("--json", action="store_true", help="machine-readable")
    view.add_argument("--watch", action="store_true", help="live view until Ctrl-C")

    hist = sub.add_parser(
        "history",
        parents=[common],
        help="list past attempts from the journal",
        description="Print the journal's attempts, oldest first.",
    )
    hist.add_argument(
        "--since", metavar="WHEN", help="2026-11-25, 2026-11-25T08:00, today, yesterday, 12h, 2d"
    )
    out = hist.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true")
    out.add_argument("--csv", action="store_true")

    ctl = sub.add_parser(
        "ctl",
        parents=[common],
        help="drive the running station: flash, cancel; insert/remove/press when simulated",
        description="Send one command to the running station.",
    )
    ctl_sub = ctl.add_subparsers(dest="action", required=True, metavar="ACTION")
    for action, text in (
        ("insert", "seat a module (simulated station)"),
        ("remove", "take a module out (simulated station)"),
    ):
        p = ctl_sub.add_parser(action, parents=[common], help=text, description=text)
        p.add_argument("socket", metavar="SOCKET")
        if action == "insert":
            p.add_argument(
                "--fault",
                choices=FAULT_NAMES,
                default="none",
                help="a faulty module: never syncs, goes silent while written, garbles "
                "its line, or resets once running",
            )
    p = ctl_sub.add_parser(
        "press",
        parents=[common],
        help="press the station button (simulated)",
        description="Press the simulated station button.",
    )
    p.add_argument(
        "--hold",
        type=float,
        default=0.15,
        metavar="SECONDS",
        help="hold this long (past the hold time: cancel running flashes)",
    )
    p = ctl_sub.add_parser(
        "flash",
        parents=[common],
        help="flash one socket or all ready ones",
        description="Start flashing (like a button press).",
    )
    p.add_argument("socket", nargs="?", metavar="SOCKET")
    ctl_sub.add_parser(
        "cancel",
        parents=[common],
        help="cancel running flashes",
        description="Cancel running flashes (like a long press).",
    )
    ctl_sub.add_parser(
        "reload",
        parents=[common],
        help="reload the config (like SIGHUP)",
        description="Reload the station's config file.",
    )

    rs = sub.add_parser(
        "restore",
        parents=[common],
        help="write a backup back onto the module in a socket",
        description="Write FILE (a backup from 'flashjig backups') at 0x0 of the module in "
        "SOCKET and verify it; prints one JSON result like 'flashjig flash'.",
    )
    rs.add_argument("file", type=Path, metavar="FILE")
    rs.add_argument("--socket", required=True, metavar="NAME")
    rs.add_argument("--simulate", action="store_true", help="an emulated module, mock pins")
    rs.add_argument(
        "--sim-flash-size",
        choices=list(SIZES),
        default="1MB",
        help="with --simulate: flash size of the emulated module",
    )
    rs.add_argument("--line-rate", action="store_true", help="with --simulate: model wire time")

    bk = sub.add_parser(
        "backups",
        parents=[common],
        help="list the read-back backups kept in the state directory",
        description="List backups (one per MAC and time) taken before modules were written.",
    )
    bk.add_argument("--json", action="store_true")

    rp = sub.add_parser(
        "report",
        parents=[common],
        help="the morning after: ok and failed by reason and socket, throughput, units",
        description="Summarise the journal: counts by result, reason and socket, modules "
        "per hour, and the list of units (serial, MAC, client id, profile, result).",
    )
    rp.add_argument("--since", metavar="WHEN", help="as for 'flashjig history'")
    rp.add_argument("--csv", type=Path, metavar="FILE", help="also write the units to FILE")

    cc = sub.add_parser(
        "check-config",
        parents=[common],
        help="validate a config: the loader's checks, pin clashes, pins the buses need",
        description="Check FILE (default: --config, $FLASHJIG_CONFIG, /etc/flashjig/flashjig.yaml) "
        "as the daemon loads it, plus the pins that station.buses and the HAT ID EEPROM need on "
        "station.pi_model. Prints 'FILE: ok (N sockets, profile P)' and exits 0, or one "
        "'FILE: problem' line per problem and exits 2.",
    )
    cc.add_argument("file", nargs="?", type=Path, metavar="FILE")

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

    fw = sub.add_parser(
        "firmware",
        parents=[common],
        help="build a firmware-like ESP8266 image for demos and tests",
        description="Write a valid ESP8266 image (esptool's image classes) to OUT.",
    )
    fw.add_argument("out", type=Path, metavar="OUT")
    fw.add_argument("--size", type=lambda s: int(s, 0), default=0x100000, metavar="BYTES")
    fw.add_argument("--banner", default="\r\nflashjig demo firmware 1.0\r\nready\r\n")
    fw.add_argument("--baud", type=int, default=115200, help="baud the firmware prints at")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command != "run":  # the daemon sets up its own logging (journald)
        logging.basicConfig(
            level=logging.WARNING, format="flashjig: %(levelname)s: %(message)s", stream=sys.stderr
        )
    if args.command == "sim":
        from flashjig.sim import serve_modules

        if args.modules < 1:
            print("flashjig sim: --modules must be at least 1", file=sys.stderr)
            return EXIT_USAGE
        return serve_modules(
            args.modules,
            flash_size=args.flash_size,
            claimed_size=args.claimed_size,
            line_rate=args.line_rate,
            state_dir=args.state_dir,
        )
    if args.command == "demo":
        from flashjig.demo import run_demo

        return run_demo(args.config, args.state_dir, line_rate=not args.fast)
    if args.command == "report":
        from flashjig import paths
        from flashjig.report import run_report

        return run_report(paths.state_dir(args.state_dir), since=args.since, csv_path=args.csv)
    if args.command in ("flash", "run", "status", "history", "ctl", "restore", "backups"):
        from flashjig import commands

        handler = {"flash": commands.flash_once}.get(args.command) or getattr(
            commands, args.command
        )
        return handler(args)
    if args.command == "check-config":
        from flashjig.pinmap import check_config_command

        return check_config_command(args)
    if args.command == "probe":
        from flashjig.probe import run_probe

        return run_probe(args)
    if args.command == "firmware":
        from flashjig.firmware import build_firmware

        data = build_firmware(args.size, banner=args.banner, baud=args.baud)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_bytes(data)
        print(f"{args.out}: {len(data)} bytes")
        return EXIT_OK
    raise AssertionError(args.command)
