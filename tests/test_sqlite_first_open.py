"""Many processes opening one new SQLite cache at the same instant all succeed.

SQLite's busy handler does not cover switching a new file to WAL or creating its schema while
another process does the same: before the fix, about one open in forty failed at once with
"database is locked" (seen in CI as a feedback job refused for its generation cache).
"""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from ropg.generation import GenerationCache
from ropg.retrievers.embedding_cache import EmbeddingCache
from ropg.utils.sqlite_open import retry_while_locked

FORK = multiprocessing.get_context("fork")
PROCESSES = 6
ROUNDS = 12


def _open_generation_cache(directory: str, start, worker: int) -> None:
    start.wait(30)
    cache = GenerationCache(Path(directory) / "generations.sqlite", timeout=30)
    cache.put_many("generator", [(f"key {worker}", "output")])
    cache.close()


def _open_embedding_cache(directory: str, start, worker: int) -> None:
    start.wait(30)
    EmbeddingCache(directory, {"model": "test"}, timeout=30)


@pytest.mark.parametrize("opener", [_open_generation_cache, _open_embedding_cache])
def test_simultaneous_first_opens_all_succeed(tmp_path: Path, opener) -> None:
    for round_ in range(ROUNDS):
        directory = tmp_path / str(round_)
        directory.mkdir()
        start = FORK.Event()
        jobs = [
            FORK.Process(target=opener, args=(str(directory), start, worker))
            for worker in range(PROCESSES)
        ]
        for job in jobs:
            job.start()
        start.set()
        for job in jobs:
            job.join(60)
        assert [job.exitcode for job in jobs] == [0] * PROCESSES, f"round {round_}"
    if opener is _open_generation_cache:
        with GenerationCache(tmp_path / "0" / "generations.sqlite", create=False) as cache:
            assert cache.get_many([f"key {w}" for w in range(PROCESSES)]) == {
                f"key {w}": "output" for w in range(PROCESSES)
            }


def test_locked_steps_are_retried_and_other_errors_are_not() -> None:
    calls = []

    def locked_twice() -> None:
        calls.append(1)
        if len(calls) < 3:
            raise sqlite3.OperationalError("database is locked")

    retry_while_locked(locked_twice, timeout=5)
    assert len(calls) == 3

    def broken() -> None:
        calls.append(1)
        raise sqlite3.OperationalError("no such table: x")

    calls.clear()
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        retry_while_locked(broken, timeout=5)
    assert len(calls) == 1

    def always_locked() -> None:
        raise sqlite3.OperationalError("database is locked")

    with pytest.raises(sqlite3.OperationalError, match="locked"):
        retry_while_locked(always_locked, timeout=0.05)
