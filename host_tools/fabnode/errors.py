"""One error hierarchy for the host tools.

Library code raises these; only the CLI entry point turns them into a one-line message and an
exit code (like esptool's ``FatalError``), so every command stays usable as a Python API.
"""

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


class FabnodeError(Exception):
    """An operation failed. ``hint`` is the next step a user can take, when there is one."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint


class UsageError(FabnodeError):
    """The user asked for something that cannot be done as asked (bad argument, unknown board)."""

    exit_code = EXIT_USAGE


class BoardFileError(FabnodeError):
    """A board data file is malformed; the message names the file and the field."""


class PortError(FabnodeError):
    """A serial port is missing, busy or went away."""


class RuntimeMissingError(FabnodeError):
    """A tool fabnode needs on this machine (node, npm) is missing or too old."""
