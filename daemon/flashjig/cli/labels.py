"""``flashjig labels``: a sheet of labels for a batch (flashjig.station.labels), from the
journal: every unit flashed ok since WHEN, or the serials asked for."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from flashjig.cli.common import (
    Subparsers,
    config_path,
    load,
    read_journal,
    reading_journal,
    state_dir,
)
from flashjig.config import LabelLayout
from flashjig.config.labelcode import LabelError
from flashjig.errors import ExitCode, JournalError, UsageError
from flashjig.station.journal import AttemptRow


def add_parser(sub: Subparsers, common: argparse.ArgumentParser) -> None:
    lp = sub.add_parser(
        "labels",
        parents=[common],
        help="labels for the units flashed ok: an A4 sheet or a roll, as PDF or PNG",
        description="A label per unit flashed ok (its last ok attempt): serial, client id, "
        "MAC and a QR code carrying them, laid out as station.labels.layout says. Without "
        "--since or --serial: every unit in the journal.",
    )
    which = lp.add_mutually_exclusive_group()
    which.add_argument("--since", metavar="WHEN", help="as for 'flashjig history'")
    which.add_argument("--serial", type=int, nargs="+", metavar="N", help="these units only")
    out = lp.add_mutually_exclusive_group(required=True)
    out.add_argument("--pdf", type=Path, metavar="FILE", help="write the labels as a PDF")
    out.add_argument("--png", type=Path, metavar="DIR", help="write one PNG per label")
    out.add_argument(
        "--pending", action="store_true", help="list the labels waiting for the printer"
    )
    lp.add_argument(
        "--roll", action="store_true", help="PDF: one label per page (a label roll), not A4"
    )
    lp.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from flashjig.station.labels import last_ok_labels, pages_needed, save_pdf, save_pngs, sheets

    if args.pending:
        return _pending(args)
    try:
        layout = _layout(args)
        rows, _ = read_journal(state_dir(args), args.since)
    except UsageError as e:
        print(f"flashjig labels: {e}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    except JournalError as e:
        print(f"flashjig labels: {e}", file=sys.stderr)
        return ExitCode.FAILED
    labels = last_ok_labels(rows)
    if args.serial:
        wanted = set(args.serial)
        labels = [label for label in labels if label.serial in wanted]
        if missing := wanted - {label.serial for label in labels}:
            numbers = ", ".join(str(n) for n in sorted(missing))
            print(f"flashjig labels: no unit flashed ok with serial {numbers}", file=sys.stderr)
            return ExitCode.FAILED
    if not labels:
        print("flashjig labels: no unit flashed ok in the journal for that", file=sys.stderr)
        return ExitCode.FAILED
    try:
        if args.png is not None:
            written = save_pngs(labels, layout, args.png)
            print(f"{len(written)} labels written to {args.png}/")
            return ExitCode.OK
        save_pdf(sheets(labels, layout, roll=args.roll), args.pdf, layout.dpi)
    except LabelError as e:  # a unit flashed under an older config's client id template
        print(f"flashjig labels: {e}", file=sys.stderr)
        return ExitCode.FAILED
    except OSError as e:
        where = e.filename or args.pdf or args.png
        print(f"flashjig labels: cannot write {where}: {e.strerror or e}", file=sys.stderr)
        return ExitCode.FAILED
    pages = len(labels) if args.roll else pages_needed(len(labels), layout)
    print(f"{len(labels)} labels on {pages} page(s) written to {args.pdf}")
    return ExitCode.OK


def _pending(args: argparse.Namespace) -> int:
    """The print queue: each waiting label's unit, how often it was tried, the last error;
    then the labels given up, each with why it cannot be made."""
    try:
        pending, failed = reading_journal(
            state_dir(args), lambda journal: (journal.pending_labels(), journal.failed_labels())
        )
    except JournalError as e:
        print(f"flashjig labels: {e}", file=sys.stderr)
        return ExitCode.FAILED
    if not pending:
        print("no label waits for the printer")
    else:
        print(f"{len(pending)} label(s) wait for the printer:")
    for row, tries, error in pending:
        tried = f"tried {tries}x: {error}" if tries else "not tried yet"
        print(f"  {_unit_line(row)}  ({tried})")
    if failed:
        print(f"{len(failed)} label(s) failed, not printed (they cannot be made):")
    for row, _tries, error in failed:
        print(f"  {_unit_line(row)}  (failed: {error})")
    return ExitCode.OK


def _unit_line(row: AttemptRow) -> str:
    unit = f"unit {row.serial}" if row.serial is not None else "no serial"
    return f"{row.finished_at or row.started_at}  {row.socket}  {row.mac}  {unit}"


def _layout(args: argparse.Namespace) -> LabelLayout:
    """The config's label layout; the default one where there is no config to read."""
    if args.config is None and not config_path(args).exists():
        return LabelLayout()
    return load(args, check_files=False).station.labels.layout
