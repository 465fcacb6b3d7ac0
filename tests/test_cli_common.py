"""What the subcommands share: --config and --state-dir on every one of them (after its
name too), a bad config as one located line and exit 2, and reading --since WHEN."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from helpers import flashjig

from flashjig.cli import build_parser
from flashjig.cli.common import parse_since

# -- common options -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        "sim",
        "flash",
        "firmware",
        "run",
        "status",
        "history",
        "ctl",
        "demo",
        "check-config",
        "probe",
        "restore",
        "backups",
        "report",
    ],
)
def test_every_subcommand_has_help_and_common_options(command):
    run = flashjig(command, "--help")
    assert run.returncode == 0
    assert "--config" in run.stdout and "--state-dir" in run.stdout


def test_common_options_parse_after_the_subcommand():
    args = build_parser().parse_args(
        ["flash", "--socket", "s", "--state-dir", "/x", "--config", "/y.yaml"]
    )
    assert str(args.state_dir) == "/x" and str(args.config) == "/y.yaml"


def test_bad_config_is_one_line_exit_2(station_config, tmp_path):
    text = station_config.path.read_text()
    line = text.splitlines().index("  id: bench-1") + 1
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("  id: bench-1", "  idd: bench-1"))
    run = flashjig("flash", "--simulate", "--socket", "socket1", "--config", str(bad))
    assert run.returncode == 2
    assert run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1
    assert f"bad.yaml:{line}: station.idd: unknown key 'idd'" in lines[0]


# -- --since WHEN ---------------------------------------------------------------------------


NOW = datetime(2026, 11, 25, 15, 30, tzinfo=UTC)


def local_midnight(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day).astimezone()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90m", NOW - timedelta(minutes=90)),
        ("12h", NOW - timedelta(hours=12)),
        ("2d", NOW - timedelta(days=2)),
        ("1w", NOW - timedelta(weeks=1)),
        ("2026-11-20T08:00Z", datetime(2026, 11, 20, 8, tzinfo=UTC)),
        (
            "2026-11-20T08:00+02:00",
            datetime(2026, 11, 20, 8, tzinfo=timezone(timedelta(hours=2))),
        ),
        ("2026-11-20T08:00", datetime(2026, 11, 20, 8).astimezone()),
        ("2026-11-20", local_midnight(2026, 11, 20)),
        ("999999999d", datetime(1970, 1, 1, tzinfo=UTC)),  # beyond what dates hold: all
        ("9" * 40 + "w", datetime(1970, 1, 1, tzinfo=UTC)),
    ],
)
def test_parse_since_accepts(text, expected):
    assert parse_since(text, now=NOW) == expected


def test_parse_since_today_and_yesterday_are_local_midnights():
    today = NOW.astimezone().date()
    assert parse_since("today", now=NOW) == local_midnight(today.year, today.month, today.day)
    yesterday = today - timedelta(days=1)
    assert parse_since("Yesterday", now=NOW) == local_midnight(
        yesterday.year, yesterday.month, yesterday.day
    )
    assert parse_since("today", now=NOW).tzinfo is not None


@pytest.mark.parametrize(
    "text", ["xyz", "12", "3y", "-2d", "2026-13-01", "", "0001-01-01T00:00+14:00"]
)
def test_parse_since_rejects(text):
    with pytest.raises(ValueError, match=r"^--since: cannot read .*; use "):
        parse_since(text, now=NOW)
