"""What the one-shot subcommands do; cli.py only parses arguments."""

import argparse
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from flashjig import paths
from flashjig.config import Config, ConfigError, ImageSpec, Profile, load_config
from flashjig.control import ControlError, request
from flashjig.flashing import FlashJob, Progress, flash
from flashjig.images import Image, ImageError, load_images
from flashjig.pins import StrapLine, power_switch
from flashjig.socket import POWER_ON_S
from flashjig.strapping import ModuleLines

DEFAULT_CONFIG = Path("/etc/flashjig/flashjig.yaml")


class UsageError(Exception):
    """Bad input from the command line or a file: one line, exit code 2."""


def config_path(args: argparse.Namespace) -> Path:
    if args.config:
        return args.config
    return Path(os.environ.get("FLASHJIG_CONFIG", DEFAULT_CONFIG))


def load(args: argparse.Namespace) -> Config:
    try:
        return load_config(config_path(args))
    except ConfigError as e:
        raise UsageError(str(e)) from None


def _progress_printer(stream) -> Callable[[Progress], None]:
    """A one-line progress bar on a terminal; nothing when stderr is a pipe or a log."""
    if not stream.isatty():
        return lambda progress: None
    last = [None]

    def show(progress: Progress) -> None:
        key = (progress.stage, int(progress.percent))
        if key == last[0]:
            return
        last[0] = key
        filled = int(progress.percent * 30 / 100)
        bar = "#" * filled + "-" * (30 - filled)
        stream.write(f"\r{progress.socket}: {progress.stage:<13} [{bar}] {progress.percent:5.1f}%")
        stream.flush()

    return show


def flash_once(args: argparse.Namespace) -> int:
    try:
        config = load(args)
        socket = config.socket(args.socket)
        images = load_images(config.profile)
    except (UsageError, ImageError) as e:
        print(f"flashjig flash: {e}", file=sys.stderr)
        return 2
    except KeyError as e:
        print(f"flashjig flash: {e.args[0]}", file=sys.stderr)
        return 2
    if config.profile.identity is not None:
        print(
            f"flashjig flash: profile {config.profile.name} gives each unit a serial from the "
            "station's journal: flash those units with the station (flashjig run)",
            file=sys.stderr,
        )
        return 2
    return _flash_with(args, config, socket, config.profile, images, "flash")


def restore(args: argparse.Namespace) -> int:
    """Write a backup back: the raw dump at 0x0, verified, no image checks (a backup of a
    bricked module is not a valid image, and that is the point)."""
    try:
        config = load(args)
        socket = config.socket(args.socket)
        data = args.file.read_bytes()
    except UsageError as e:
        print(f"flashjig restore: {e}", file=sys.stderr)
        return 2
    except KeyError as e:
        print(f"flashjig restore: {e.args[0]}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"flashjig restore: cannot read {args.file}: {e.strerror}", file=sys.stderr)
        return 2
    profile = Profile(name="restore", images=(ImageSpec(0, args.file),))
    image = Image(0, args.file, data, hashlib.sha256(data).hexdigest())
    return _flash_with(args, config, socket, profile, (image,), "restore")


def backups(args: argparse.Namespace) -> int:
    from flashjig.backups import list_backups

    kept = list_backups(paths.state_dir(args.state_dir))
    if args.json:
        print(json.dumps(kept, indent=2))
        return 0
    print(f"{'TIME':<20}  {'MAC':<17}  {'SOCKET':<10}  {'SIZE':>8}  FILE")
    for b in kept:
        print(f"{b['time']:<20}  {b['mac']:<17}  {b['socket']:<10}  {b['size']:>8}  {b['path']}")
    print(f"{len(kept)} backups")
    return 0


def _flash_with(args, config: Config, socket, profile: Profile, images, verb: str) -> int:
    hardware = None
    pin_factory = None
    port = socket.serial
    if args.simulate:
        from flashjig.simulation import ModuleSpec, SimulatedHardware

        hardware = SimulatedHardware(
            config,
            modules={socket.name: ModuleSpec(flash_size=args.sim_flash_size)},
            line_rate=args.line_rate,
        )
        pin_factory = hardware.pin_factory
        port = hardware.port(socket.name)
    lines = ModuleLines(
        StrapLine(socket.gpio0, pin_factory=pin_factory),
        StrapLine(socket.en, pin_factory=pin_factory),
    )
    power = power_switch(socket.power, active_low=socket.power_active_low, pin_factory=pin_factory)
    if power is not None:
        power.on()
        time.sleep(POWER_ON_S)
    try:
        job = FlashJob(
            socket=socket.name,
            port=port,
            lines=lines,
            profile=profile,
            images=images,
            station=config.station.id,
            state_dir=paths.state_dir(args.state_dir),
            on_progress=_progress_printer(sys.stderr),
        )
        result = flash(job)
    finally:
        lines.close()
        if power is not None:
            power.close()
        if hardware is not None:
            hardware.close()
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    print(json.dumps(result.as_dict()))
    return 0 if result.ok else 1


def station_socket(args: argparse.Namespace) -> Path:
    return paths.control_socket(paths.state_dir(args.state_dir))


def status(args: argparse.Namespace) -> int:
    from flashjig.statusview import render

    path = station_socket(args)
    try:
        if args.json:
            print(json.dumps(request(path, {"cmd": "status"})["status"], indent=2))
            return 0
        if not args.watch:
            colour = sys.stdout.isatty()
            print(render(request(path, {"cmd": "status"})["status"], colour=colour))
            return 0
        while True:
            view = render(request(path, {"cmd": "status"})["status"], colour=True)
            sys.stdout.write("\x1b[H\x1b[J" + view + "\n(Ctrl-C to stop watching)\n")
            sys.stdout.flush()
            time.sleep(0.5)
    except ControlError as e:
        print(f"flashjig status: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


def ctl(args: argparse.Namespace) -> int:
    payload: dict = {"cmd": args.action}
    if args.action in ("insert", "remove") or args.action == "flash" and args.socket:
        payload["socket"] = args.socket
    elif args.action == "press":
        payload["hold"] = args.hold
    try:
        answer = request(
            station_socket(args), payload, timeout=max(30.0, getattr(args, "hold", 0) + 10)
        )
    except ControlError as e:
        print(f"flashjig ctl {args.action}: {e}", file=sys.stderr)
        return 1
    answer.pop("ok", None)
    if answer:
        print(json.dumps(answer))
    return 0


def history(args: argparse.Namespace) -> int:
    from flashjig.history import run_history

    fmt = "json" if args.json else "csv" if args.csv else "table"
    return run_history(paths.state_dir(args.state_dir), since=args.since, fmt=fmt)


def run(args: argparse.Namespace) -> int:
    from flashjig.daemon import run as run_daemon

    return run_daemon(
        config_path(args),
        args.state_dir,
        simulate=args.simulate,
        line_rate=args.line_rate,
        verbose=args.verbose,
    )
