"""User-facing errors: the CLI prints their message and exits with code 2, no traceback."""

from __future__ import annotations

__all__ = ["CrlbenchError", "UnknownIdError", "DataFileError"]


class CrlbenchError(ValueError):
    """Bad input that the user can fix; the message names the problem and the fix."""


class UnknownIdError(CrlbenchError, KeyError):
    """An id that no registry knows (the message suggests close matches)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DataFileError(CrlbenchError):
    """A data file that is missing, truncated, incomplete or not a crlbench file."""
