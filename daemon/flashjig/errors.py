"""Every error flashjig raises, under one root, and the exit codes they end in.

Callers catch ``FlashjigError`` to tell our refusals (bad config, bad image, a station that
says no) from bugs. Where an error stands for a builtin, it mixes that in, so code that
only knows the builtin still catches it (a ``ConfigError`` is a ``ValueError``).
"""

from __future__ import annotations

import enum

__all__ = [
    "BackupError",
    "CommandError",
    "ConfigError",
    "ControlError",
    "ExitCode",
    "FlashjigError",
    "FleetError",
    "HardwareError",
    "IdentityError",
    "ImageError",
    "JournalError",
    "JournalMissing",
    "JournalNewerSchema",
    "JournalNotAllowed",
    "JournalUnreadable",
    "JournalUnwritable",
    "UnitsExhausted",
    "UsageError",
]


class ExitCode(enum.IntEnum):
    """What a command's exit status means, for scripts and for systemd's
    RestartPreventExitStatus."""

    OK = 0  # done
    FAILED = 1  # the job ran and failed (a module not flashed, no station to talk to)
    BAD_INPUT = 2  # bad command line, config or image: trying again will not help


class FlashjigError(Exception):
    """The root: a refusal with a one-line message a person can act on."""


class ConfigError(FlashjigError, ValueError):
    """One-line message: '<file>:<line>: <field path>: <reason>'.

    The parts are also kept as attributes (file, line, field, reason) so callers can report
    them in a structured way; line/field are None when the problem has no node (unreadable file,
    YAML syntax error has no field).
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(message)
        self.file = file
        self.line = line
        self.field = field
        self.reason = reason if reason is not None else message


class UsageError(FlashjigError, ValueError):
    """Bad input on the command line or in a file it names: one line, exit code 2."""


class PasswordError(FlashjigError, ValueError):
    """A password file the station cannot use (unreadable, not UTF-8, blank)."""


class ImageError(FlashjigError, ValueError):
    """An image that must not be written; the message names the file and the fault."""


class IdentityError(FlashjigError):
    """The unit's identity cannot be put into its image; the message says why."""


class UnitsExhausted(FlashjigError):
    """No serial (or per-unit image) left to give a new unit."""


class BackupError(FlashjigError):
    """A backup that cannot be made or trusted; the message says why."""


class JournalError(FlashjigError):
    """A journal that cannot be used as asked. The subclasses say which way; those that
    stand for an error of SQLite or the system carry its words, and the cause it chains."""


class JournalMissing(JournalError):
    """No journal at the path a reader opens (the station has not run there)."""


class JournalNotAllowed(JournalError):
    """The system denies opening the journal, or the directory it lives in."""


class JournalNewerSchema(JournalError):
    """A journal written by a newer flashjig: this one must not change or guess at it."""


class JournalUnreadable(JournalError):
    """A journal that cannot be read: not a database, damaged, an I/O error."""


class JournalUnwritable(JournalError):
    """A write the journal does not take: a full disk, a read-only file system, an I/O
    error, or a journal opened read-only."""


class FleetError(FlashjigError):
    """The broker could not be reached or refused the fleet viewer, or its store cannot be
    used."""


class ControlError(FlashjigError):
    """A control request the station refused, or no station to ask; one line."""


class CommandError(FlashjigError):
    """An MQTT command refused; the message goes to the error topic."""


class HardwareError(FlashjigError, ValueError):
    """Something the station's hardware cannot do as asked (seat a module in a full
    socket, press a button the station does not have)."""
