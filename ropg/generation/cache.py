"""A persistent output cache: every (generator identity, decoding config, prompt) runs once.

Outputs live in one SQLite file (WAL mode, busy timeout), keyed by the sha256 of the
canonical identity JSON and the prompt; the prompt itself is not stored. Several processes
may read and write the same file at once. :class:`CachedGenerator` wraps any generator,
generates only the misses (each distinct prompt once) and commits every finished batch in
its own transaction, so a killed job loses at most the batch in flight.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ropg.generation.base import GenerationConfig, Generator, effective_identity, identity_json
from ropg.generation.errors import GenerationError
from ropg.generation.stats import CacheStats, GeneratorEntries
from ropg.utils.sqlite_open import retry_while_locked, use_wal

logger = logging.getLogger(__name__)

SCHEMA_VERSION = "1"
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS generations (key TEXT PRIMARY KEY, generator TEXT NOT NULL, "
    "output TEXT NOT NULL, created REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS generators (id TEXT PRIMARY KEY, label TEXT NOT NULL, "
    "identity TEXT NOT NULL, created REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS stats (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
)
_TABLES = frozenset({"generations", "generators", "stats", "meta"})
_LOOKUP_CHUNK = 500


def default_cache_path() -> Path:
    """``$ROPG_CACHE_DIR/generations.sqlite``, else ``~/.cache/ropg/generations.sqlite``."""
    root = os.environ.get("ROPG_CACHE_DIR")
    directory = Path(root).expanduser() if root else Path.home() / ".cache" / "ropg"
    return directory / "generations.sqlite"


def generator_id(identity_text: str) -> str:
    """The sha256 of a canonical identity JSON."""
    return hashlib.sha256(identity_text.encode("utf-8")).hexdigest()


def generation_key(identity_text: str, prompt: str) -> str:
    """The cache key of one prompt under one canonical identity JSON.

    JSON text never contains a raw NUL, so ``identity NUL prompt`` is unambiguous.
    """
    digest = hashlib.sha256(identity_text.encode("utf-8"))
    digest.update(b"\0")
    digest.update(prompt.encode("utf-8"))
    return digest.hexdigest()


class GenerationCache:
    """The SQLite store behind :class:`CachedGenerator`.

    Args:
        path: the database file (default: :func:`default_cache_path`).
        timeout: seconds to wait for another process's write lock.
        create: create the file and tables when missing; with ``False`` a missing file or a
            file that is not a ropg generation cache is a :class:`GenerationError`.

    One instance may be shared by threads (a lock serialises them); each process opens its
    own connection (a forked child reconnects by itself).
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        timeout: float = 60.0,
        create: bool = True,
    ) -> None:
        self.path = Path(path).expanduser() if path is not None else default_cache_path()
        self.timeout = timeout
        self.create = create
        self._lock = threading.RLock()
        self._connection: sqlite3.Connection | None = None
        self._pid = -1
        if not create and not self.path.is_file():
            raise GenerationError(f"no generation cache at {self.path}")
        self._connect()

    def _connect(self) -> sqlite3.Connection:
        if self._connection is not None and self._pid == os.getpid():
            return self._connection
        connection: sqlite3.Connection | None = None
        try:
            if self.create:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(
                self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
            )
            connection.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            retry_while_locked(lambda: self._prepare(connection), self.timeout)
        except (sqlite3.DatabaseError, OSError, GenerationError) as error:
            if connection is not None:
                connection.close()
            if isinstance(error, GenerationError):
                raise
            raise GenerationError(
                f"cannot use {self.path} as a generation cache: {error}"
            ) from None
        self._connection, self._pid = connection, os.getpid()
        return connection

    def _prepare(self, connection: sqlite3.Connection) -> None:
        if self.create:
            use_wal(connection)
            connection.execute("PRAGMA synchronous = NORMAL")
            self._create_schema(connection)
        else:
            self._check_schema(connection)

    @staticmethod
    def _create_schema(connection: sqlite3.Connection) -> None:
        connection.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA:
                connection.execute(statement)
            connection.execute(
                "INSERT OR IGNORE INTO meta (name, value) VALUES ('schema', ?)", (SCHEMA_VERSION,)
            )
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    def _check_schema(self, connection: sqlite3.Connection) -> None:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        if not _TABLES <= {row[0] for row in rows}:
            raise GenerationError(f"{self.path} is not a ropg generation cache")

    def _write(self, statements: Iterable[tuple[str, Sequence[Any]]]) -> None:
        with self._lock:
            connection = self._connect()
            connection.execute("BEGIN IMMEDIATE")
            try:
                for sql, parameters in statements:
                    connection.execute(sql, parameters)
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise

    def get_many(self, keys: Sequence[str]) -> dict[str, str]:
        """The cached outputs of those keys that are present."""
        found: dict[str, str] = {}
        with self._lock:
            connection = self._connect()
            for start in range(0, len(keys), _LOOKUP_CHUNK):
                chunk = list(keys[start : start + _LOOKUP_CHUNK])
                marks = ",".join("?" * len(chunk))
                rows = connection.execute(
                    f"SELECT key, output FROM generations WHERE key IN ({marks})", chunk
                )
                found.update(rows)
        return found

    def put_many(
        self,
        generator: str,
        items: Sequence[tuple[str, str]],
        *,
        label: str = "",
        identity: str = "{}",
        misses: int = 0,
    ) -> None:
        """Store ``(key, output)`` pairs and count ``misses``, in one transaction.

        The first output stored under a key wins (concurrent writers of the same
        deterministic output agree anyway).
        """
        now = time.time()
        statements: list[tuple[str, Sequence[Any]]] = [
            (
                "INSERT OR IGNORE INTO generators (id, label, identity, created) "
                "VALUES (?, ?, ?, ?)",
                (generator, label, identity, now),
            )
        ]
        statements += [
            (
                "INSERT OR IGNORE INTO generations (key, generator, output, created) "
                "VALUES (?, ?, ?, ?)",
                (key, generator, output, now),
            )
            for key, output in items
        ]
        if misses:
            statements.append(self._count("misses", misses))
        self._write(statements)

    @staticmethod
    def _count(name: str, amount: int) -> tuple[str, Sequence[Any]]:
        return (
            "INSERT INTO stats (name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
            (name, amount),
        )

    def record_hits(self, hits: int) -> None:
        """Add to the persisted hit counter."""
        if hits:
            self._write([self._count("hits", hits)])

    def __len__(self) -> int:
        with self._lock:
            return int(self._connect().execute("SELECT COUNT(*) FROM generations").fetchone()[0])

    def stats(self) -> CacheStats:
        """Entries (in all and per generator), persisted hits/misses and size on disk."""
        with self._lock:
            connection = self._connect()
            try:
                counters = dict(connection.execute("SELECT name, value FROM stats"))
                rows = connection.execute(
                    "SELECT g.id, g.label, g.identity, COUNT(o.key) FROM generators g "
                    "LEFT JOIN generations o ON o.generator = g.id "
                    "GROUP BY g.id ORDER BY COUNT(o.key) DESC, g.label"
                ).fetchall()
                entries = connection.execute("SELECT COUNT(*) FROM generations").fetchone()[0]
            except sqlite3.DatabaseError as error:
                raise GenerationError(f"cannot read {self.path}: {error}") from None
        size = sum(
            candidate.stat().st_size
            for candidate in (self.path, Path(f"{self.path}-wal"), Path(f"{self.path}-shm"))
            if candidate.exists()
        )
        generators = [
            GeneratorEntries(id=row[0], label=row[1], identity=json.loads(row[2]), entries=row[3])
            for row in rows
        ]
        return CacheStats(
            path=str(self.path),
            entries=int(entries),
            hits=int(counters.get("hits", 0)),
            misses=int(counters.get("misses", 0)),
            size_bytes=size,
            generators=generators,
        )

    def close(self) -> None:
        """Close this process's connection."""
        with self._lock:
            if self._connection is not None and self._pid == os.getpid():
                self._connection.close()
            self._connection = None

    def __enter__(self) -> GenerationCache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"GenerationCache({str(self.path)!r})"


class CachedGenerator:
    """Wrap a generator so that each (identity, config, prompt) is generated once, ever.

    Args:
        generator: any :class:`~ropg.generation.base.Generator`.
        cache: a :class:`GenerationCache`, a path, or ``None`` for the default path.
        label: a human label for ``ropg cache stats`` (default: the generator's ``name``).

    ``generate`` looks all prompts up, generates only the distinct misses and writes each
    finished batch at once (through the generator's ``on_batch`` callback when it has one,
    else in chunks of ``config.batch_size``). ``hits``/``misses`` count this instance's
    lookups; the cache file keeps the running totals.
    """

    def __init__(
        self,
        generator: Generator,
        cache: GenerationCache | str | os.PathLike[str] | None = None,
        *,
        label: str | None = None,
    ) -> None:
        self.generator = generator
        self.cache = cache if isinstance(cache, GenerationCache) else GenerationCache(cache)
        self.label = label or getattr(generator, "name", None) or type(generator).__name__
        self.hits = 0
        self.misses = 0
        parameters = inspect.signature(generator.generate).parameters
        self._takes_callback = "on_batch" in parameters

    @property
    def config(self) -> GenerationConfig:
        """The wrapped generator's default decoding config."""
        return self.generator.config

    @property
    def identity(self) -> dict[str, Any]:
        """The wrapped generator's identity (caching does not change outputs)."""
        return self.generator.identity

    @property
    def name(self) -> str:
        return self.label

    def score(self, prompts: Sequence[str], targets: Sequence[str], **options: Any) -> list[float]:
        """Likelihood scoring, passed through uncached."""
        return self.generator.score(prompts, targets, **options)  # type: ignore[attr-defined]

    def generate(self, prompts: Sequence[str], config: GenerationConfig | None = None) -> list[str]:
        """One output per prompt, in order; cached outputs are not generated again."""
        prompts = list(prompts)
        if not prompts:
            return []
        effective = config if config is not None else self.generator.config
        identity_text = identity_json(effective_identity(self.generator, config))
        owner = generator_id(identity_text)
        keys = [generation_key(identity_text, prompt) for prompt in prompts]
        first_prompt: dict[str, str] = {}
        for key, prompt in zip(keys, prompts, strict=True):
            first_prompt.setdefault(key, prompt)
        outputs = self.cache.get_many(list(first_prompt))
        missing = [key for key in first_prompt if key not in outputs]
        hits = len(prompts) - len(missing)
        self.hits += hits
        self.cache.record_hits(hits)
        logger.info("%s: %d cached, %d to generate", self.label, hits, len(missing))
        if missing:
            self._fill(
                missing,
                [first_prompt[key] for key in missing],
                config,
                effective,
                outputs,
                owner,
                identity_text,
            )
        return [outputs[key] for key in keys]

    def _fill(
        self,
        keys: list[str],
        prompts: list[str],
        config: GenerationConfig | None,
        effective: GenerationConfig,
        outputs: dict[str, str],
        owner: str,
        identity_text: str,
    ) -> None:
        def store(indices: list[int], texts: list[str]) -> None:
            if len(indices) != len(texts):
                raise GenerationError(
                    f"{self.label} returned {len(texts)} outputs for {len(indices)} prompts"
                )
            items = [
                (keys[i], text)
                for i, text in zip(indices, texts, strict=True)
                if keys[i] not in outputs
            ]
            if not items:
                return
            self.cache.put_many(
                owner, items, label=self.label, identity=identity_text, misses=len(items)
            )
            self.misses += len(items)
            outputs.update(items)

        if self._takes_callback:
            texts = self.generator.generate(prompts, config, on_batch=store)  # type: ignore[call-arg]
            store(list(range(len(prompts))), list(texts))  # whatever the callback did not see
            return
        size = effective.batch_size
        for start in range(0, len(prompts), size):
            chunk = prompts[start : start + size]
            texts = list(self.generator.generate(chunk, config))
            if len(texts) != len(chunk):
                raise GenerationError(
                    f"{self.label} returned {len(texts)} outputs for {len(chunk)} prompts"
                )
            store(list(range(start, start + len(chunk))), texts)
