"""Opening an SQLite file that other processes may be opening at the same moment."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable


def retry_while_locked(step: Callable[[], object], timeout: float) -> None:
    """Run ``step`` until it does not fail with a locked database or ``timeout`` passes.

    SQLite's busy handler does not cover every first-open race: switching a new file to WAL,
    or creating the schema while another process does the same, can fail with "database is
    locked" at once, without waiting. The steps given here are idempotent, so they are retried
    with a growing pause (10 ms up to 250 ms).
    """
    deadline = time.monotonic() + timeout
    pause = 0.01
    while True:
        try:
            step()
            return
        except sqlite3.OperationalError as error:
            message = str(error).lower()
            if ("locked" not in message and "busy" not in message) or time.monotonic() > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.25)


def use_wal(connection: sqlite3.Connection) -> None:
    """Put the file in WAL mode unless it already is (the switch needs an exclusive lock)."""
    mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
    if str(mode).lower() != "wal":
        connection.execute("PRAGMA journal_mode = WAL")
