"""What the subcommands share: the options every one of them takes, where the config and
the running station are, reading the config as a command-line input, ``--since WHEN``,
and a progress bar on a terminal."""

from __future__ import annotations

import argparse
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TextIO, TypeAlias, TypeVar

from flashjig.config import Config, load_config
from flashjig.errors import (
    ConfigError,
    JournalMissing,
    JournalNotAllowed,
    JournalUnreadable,
    UsageError,
)
from flashjig.flashing.result import Progress
from flashjig.station import paths
from flashjig.station.journal import JOURNAL_FILE, AttemptRow, Journal, UnitRecord

DEFAULT_CONFIG = Path("/etc/flashjig/flashjig.yaml")
SINCE_HELP = (
    "a date (2026-11-25), a date and time (2026-11-25T08:00, local unless it ends in Z or "
    "an offset), today, yesterday, or an age such as 90m, 12h, 2d, 1w"
)
# Who may read what a station keeps (the state directory is 0750, the service's group).
WHO_MAY = "run as root, or as a member of the station's group (sudo usermod -aG flashjig USER)"
# Before anything a journal holds: an age reaching further back means "all of it".
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_AGE = re.compile(r"(\d+)\s*([mhdw])")
_AGE_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

# argparse's type for the object add_subparsers returns (private in typeshed's eyes, and
# generic only there: at run time the class takes no parameters).
if TYPE_CHECKING:
    Subparsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    Subparsers = argparse._SubParsersAction


def common_options() -> argparse.ArgumentParser:
    """Options every subcommand takes, anywhere after the subcommand's name."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="FILE", type=Path, help="station configuration")
    common.add_argument("--state-dir", metavar="DIR", type=Path, help="journal and backups")
    return common


def config_path(args: argparse.Namespace) -> Path:
    """--config, else $FLASHJIG_CONFIG, else the system station's."""
    if args.config:
        return Path(args.config)
    return Path(os.environ.get("FLASHJIG_CONFIG", DEFAULT_CONFIG))


def load(args: argparse.Namespace, *, check_files: bool = True) -> Config:
    """The config the command line names; a bad one is a UsageError (exit 2)."""
    try:
        return load_config(config_path(args), check_files=check_files)
    except ConfigError as e:
        raise UsageError(str(e)) from None


def state_dir(args: argparse.Namespace) -> Path:
    return paths.state_dir(args.state_dir)


def station_socket(args: argparse.Namespace) -> Path:
    """The control socket of the station the command line names."""
    return paths.control_socket(state_dir(args))


def parse_since(text: str, *, now: datetime | None = None) -> datetime:
    """The moment ``text`` names, timezone-aware; naive dates and times are local."""
    now = (now or datetime.now()).astimezone()
    word = text.strip().lower()
    if word in ("today", "yesterday"):
        day = now.date() - timedelta(days=1 if word == "yesterday" else 0)
        # Through naive local midnight, so a DST change that day gives the right offset.
        return datetime.combine(day, time()).astimezone()
    age = _AGE.fullmatch(word)
    if age:
        try:
            return now - timedelta(**{_AGE_UNITS[age[2]]: int(age[1])})
        except OverflowError:  # further back than dates go: the whole journal
            return EPOCH
    try:
        return datetime.fromisoformat(text.strip()).astimezone()
    except (ValueError, OverflowError):
        raise UsageError(f"--since: cannot read {text!r}; use {SINCE_HELP}") from None


def journal_rows(state: Path, since: str | None) -> list[AttemptRow]:
    """The journal's attempts since WHEN (all without), oldest first, read readonly: safe
    while the daemon writes. UsageError for a WHEN it cannot read, JournalError for a
    journal that is not there or not readable."""
    return read_journal(state, since)[0]


_Read = TypeVar("_Read")


def read_journal(state: Path, since: str | None) -> tuple[list[AttemptRow], list[UnitRecord]]:
    """As ``journal_rows``, with the units handed a serial since WHEN."""
    start = parse_since(since) if since else None
    return reading_journal(state, lambda j: (j.attempts(since=start), j.units(since=start)))


def reading_journal(state: Path, read: Callable[[Journal], _Read]) -> _Read:
    """What ``read`` gets from the state directory's journal, opened read-only; a journal
    that is not there or cannot be read is a JournalError saying so in one line."""
    path = state / JOURNAL_FILE
    try:
        with Journal(path, readonly=True) as journal:
            return read(journal)
    except JournalMissing:
        raise JournalMissing(f"no journal at {path} (has the station run?)") from None
    except JournalNotAllowed:
        raise JournalNotAllowed(f"not allowed to read {path}: {WHO_MAY}") from None
    except JournalUnreadable as e:
        raise JournalUnreadable(f"cannot read the journal at {path}: {e}") from None


def progress_printer(stream: TextIO) -> Callable[[Progress], None]:
    """A one-line progress bar on a terminal; nothing when the stream is a pipe or a log."""
    if not stream.isatty():
        return lambda progress: None
    last: list[tuple[str, int] | None] = [None]

    def show(progress: Progress) -> None:
        key = (progress.stage.value, int(progress.percent))
        if key == last[0]:
            return
        last[0] = key
        filled = int(progress.percent * 30 / 100)
        bar = "#" * filled + "-" * (30 - filled)
        stage = progress.stage.value
        stream.write(f"\r{progress.socket}: {stage:<13} [{bar}] {progress.percent:5.1f}%")
        stream.flush()

    return show
