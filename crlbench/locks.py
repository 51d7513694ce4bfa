"""Exclusive use of an output: one writer per file (a dataset, a run, a record) at a time,
in an output folder created up front (:func:`output_folder`).

A lock is an advisory ``fcntl.flock`` on a hidden file beside the output,
``<folder>/.<name>.lock``. The kernel releases it when its holder exits, killed or not, so
a stale lock never blocks anyone; the file itself stays (deleting it while another process
waits on it would let two writers in). While held, it names its holder (process id, host,
command line, start time), so that a second writer can say who is in the way.

Readers take no lock: writers only ever publish a finished file under its final name with
an atomic rename, so a reader sees the old file or the new one, never a half-written one.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from crlbench.errors import CrlbenchError

__all__ = ["LockedError", "exclusive", "lock_path", "output_folder"]


class LockedError(CrlbenchError):
    """Another process holds the output; the message names it."""


def output_folder(path: str | Path, what: str = "output folder") -> Path:
    """Create the folder ``path`` (and its parents) or raise a :class:`CrlbenchError` that says
    why, naming it ``what``, before any output is written."""
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise CrlbenchError(f"{what} {out} is a file; name a folder (it is created if missing)") from None
    except OSError as e:
        raise CrlbenchError(f"{what} {out}: cannot create it ({e.strerror}); choose a writable location") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise CrlbenchError(f"{what} {out} is not writable; choose a writable location")
    return out


def lock_path(target: str | Path) -> Path:
    """``<folder>/.<name>.lock``: the lock file of ``target``."""
    target = Path(target)
    return target.with_name(f".{target.name}.lock")


def _holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        info = json.loads(os.read(fd, 1 << 16).decode() or "{}")
    except (OSError, ValueError):
        info = {}
    if not info:
        return "another process"
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.get("started", 0)))
    return f"process {info.get('pid')} on {info.get('host')} (`{info.get('command')}`, started {started})"


@contextmanager
def exclusive(
    target: str | Path,
    *,
    wait: bool = False,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[Path]:
    """Hold the lock of ``target`` for the duration of the block.

    Args:
        target: The output (a file or a folder; it need not exist yet).
        wait: Block until the holder is done, instead of raising :class:`LockedError`.
        on_wait: Called with the holder's description before blocking (e.g. to print it).

    Raises:
        LockedError: ``wait`` is False and another process holds the lock.
        CrlbenchError: the lock file cannot be created (the folder is not writable).
    """
    target = Path(target)
    path = lock_path(target)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise CrlbenchError(f"{target.parent}: cannot write there ({e.strerror}); choose a writable folder") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            if not wait:
                raise LockedError(
                    f"{target} is being written by {holder}; wait until it finishes (or stop it), then run the command again"
                ) from None
            if on_wait is not None:
                on_wait(holder)
            fcntl.flock(fd, fcntl.LOCK_EX)
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": " ".join(Path(sys.argv[0]).name if i == 0 else a for i, a in enumerate(sys.argv))[:300],
            "started": time.time(),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        try:
            yield target
        finally:
            os.ftruncate(fd, 0)  # released: nobody to name
    finally:
        os.close(fd)  # closing releases the flock
