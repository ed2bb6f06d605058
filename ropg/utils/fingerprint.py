"""Fast, stable fingerprints of data files and model directories (what ``from_pretrained``
reads).

Used for generator identities (the output cache), embedding-cache keys, feedback headers and
run fingerprints.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path
from typing import Any

CHUNK = 1 << 20


def json_digest(value: Any, length: int = 12) -> str:
    """The first ``length`` hex digits of the sha256 of ``value``'s canonical JSON (sorted
    keys, non-JSON values as ``str``)."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


@functools.lru_cache(maxsize=256)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def file_digest(path: str | os.PathLike[str]) -> str:
    """BLAKE2b-128 of a file's bytes (memoized per path, size and modification time): the
    data digest of benchmark units and feedback headers."""
    stat = Path(path).stat()
    return _file_digest(str(path), stat.st_size, stat.st_mtime_ns)


# Files up to this size are hashed by content; bigger ones (weights) by name, size and mtime.
CONTENT_HASH_LIMIT = 64 * 1024 * 1024
_FINGERPRINTS: dict[tuple[str, tuple[tuple[str, int, int], ...]], str] = {}


def _listing(directory: Path) -> tuple[tuple[str, int, int], ...]:
    entries = []
    for entry in os.scandir(directory):
        if entry.name.startswith(".") or not entry.is_file():
            continue
        stat = entry.stat()
        entries.append((entry.name, stat.st_size, stat.st_mtime_ns))
    return tuple(sorted(entries))


def directory_fingerprint(path: str | os.PathLike[str]) -> str:
    """A sha256 over a model directory's top-level files (what ``from_pretrained`` reads).

    Small files (config, tokenizer, small weights) count by content, so a copied directory
    keeps its fingerprint; files over :data:`CONTENT_HASH_LIMIT` count by name, size and
    modification time, so retraining into the same directory changes it. Copying a big
    model without preserving modification times can only cause cache misses, never a wrong
    hit. Results are memoised per process for an unchanged listing.
    """
    directory = Path(path).resolve()
    listing = _listing(directory)
    memo_key = (str(directory), listing)
    if memo_key in _FINGERPRINTS:
        return _FINGERPRINTS[memo_key]
    digest = hashlib.sha256()
    for name, size, mtime_ns in listing:
        digest.update(name.encode("utf-8") + b"\0")
        if size <= CONTENT_HASH_LIMIT:
            content = hashlib.sha256()
            with open(directory / name, "rb") as handle:
                for chunk in iter(lambda: handle.read(CHUNK), b""):
                    content.update(chunk)
            digest.update(b"content:" + content.digest())
        else:
            digest.update(f"stat:{size}:{mtime_ns}".encode())
    fingerprint = digest.hexdigest()
    _FINGERPRINTS[memo_key] = fingerprint
    return fingerprint
