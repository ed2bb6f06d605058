"""Fast, stable fingerprints of model directories (what ``from_pretrained`` reads).

Used for generator identities (the output cache), embedding-cache keys and run fingerprints.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

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
            file_digest = hashlib.sha256()
            with open(directory / name, "rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    file_digest.update(chunk)
            digest.update(b"content:" + file_digest.digest())
        else:
            digest.update(f"stat:{size}:{mtime_ns}".encode())
    fingerprint = digest.hexdigest()
    _FINGERPRINTS[memo_key] = fingerprint
    return fingerprint
