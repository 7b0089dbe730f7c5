"""Exit codes and the error types every Simpul command speaks.

Library code raises a :class:`SimpulError` (or a subclass); only the CLI catches errors and
turns them into one plain line on stderr plus the documented exit code.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Documented process exit codes (README "Exit codes")."""

    OK = 0
    ERROR = 1
    USAGE = 2
    CONFIG = 3
    UNREACHABLE = 4
    PARTIAL = 5
    DRIFT = 6
    INTERRUPTED = 130


class SimpulError(Exception):
    """An error the user can act on: one clear line, and an exit code.

    ``hint`` says what to do about it; it is printed after the message.
    """

    exit_code: ExitCode = ExitCode.ERROR

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message} ({self.hint})"


class UsageError(SimpulError):
    """The command line itself is wrong."""

    exit_code = ExitCode.USAGE


class ConfigError(SimpulError):
    """Settings or inventory are invalid or missing."""

    exit_code = ExitCode.CONFIG


class SecretError(ConfigError):
    """A referenced secret cannot be resolved (missing variable, unsafe file mode, ...)."""


class UnreachableError(SimpulError):
    """A target (host, router, agent, database) could not be reached."""

    exit_code = ExitCode.UNREACHABLE

    def __init__(self, target: str, reason: str, *, hint: str | None = None) -> None:
        super().__init__(f"{target}: {reason}", hint=hint)
        self.target = target
        self.reason = reason


class AuthError(UnreachableError):
    """The target answered but refused our credentials."""


class DriftError(SimpulError):
    """The live state differs from the declared state."""

    exit_code = ExitCode.DRIFT


class LockedError(SimpulError):
    """Another run holds the lock for this job."""

    exit_code = ExitCode.ERROR


class OplogError(SimpulError):
    """The operations log cannot be written or fails verification."""
