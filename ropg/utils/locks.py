"""Locks on outputs: ``flock`` on the output file or directory itself, so none is left behind.

A lock taken on a file descriptor is released when the descriptor is closed, or when the
process ends however it ends (``kill -9`` included): no lock file exists that could outlive
its holder. Off POSIX (no ``fcntl``) the locks are no-ops.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from ropg.errors import UserError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]


class LockedError(UserError):
    """Another process holds the lock on an output (the message names it)."""


def try_lock(descriptor: int, path: object, holder: str) -> None:
    """Take an exclusive lock on ``descriptor`` now, or raise :class:`LockedError`."""
    if fcntl is None:  # pragma: no cover
        return
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        message = f"{path}: {holder}; wait for it to finish or use another output"
        raise LockedError(message) from None


def wait_lock(descriptor: int) -> None:
    """Take an exclusive lock on ``descriptor``, waiting for its holder to release it."""
    if fcntl is not None:
        fcntl.flock(descriptor, fcntl.LOCK_EX)


@contextlib.contextmanager
def directory_lock(path: str | os.PathLike[str], *, wait: bool, holder: str = "") -> Iterator[None]:
    """An exclusive lock on directory ``path`` (created if missing) for the ``with`` block.

    ``wait``: wait for another holder (else a :class:`LockedError` saying ``holder``, e.g.
    ``"another run is using this run directory"``).
    """
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        if wait:
            wait_lock(descriptor)
        else:
            try_lock(descriptor, directory, holder or "another process is writing here")
        yield
    finally:
        os.close(descriptor)  # closing the descriptor releases the lock
