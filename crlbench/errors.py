"""User-facing errors: the CLI prints their message and exits with code 2, no traceback."""

from __future__ import annotations

__all__ = ["CrlbenchError", "UnknownIdError", "DataFileError", "OutputExistsError"]


class CrlbenchError(ValueError):
    """Bad input that the user can fix; the message names the problem and the fix."""


class UnknownIdError(CrlbenchError, KeyError):
    """An id that no registry knows (the message suggests close matches)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DataFileError(CrlbenchError):
    """A data file that is missing, truncated, incomplete or not a crlbench file."""


class OutputExistsError(DataFileError):
    """A file in the way of a new output: another spec's, incomplete, or failing its checks.

    The message says how ``crlbench generate`` resolves it; commands that generate data on
    the way (``train``, ``evaluate``, ``sweep``) give their own fix from ``path`` and ``reason``.
    """

    def __init__(self, path: object, reason: str) -> None:
        self.path, self.reason = path, reason
        super().__init__(f"{path} exists and {reason}; pass --overwrite to replace it, or choose another --out")

    def __reduce__(self) -> tuple:
        return type(self), (self.path, self.reason)
