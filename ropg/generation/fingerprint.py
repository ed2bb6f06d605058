"""Stable model identities: a hub commit, or a fast fingerprint of a local model directory."""

from __future__ import annotations

import hashlib
import logging
import os
import re
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

# Files up to this size are hashed by content; bigger ones (weights) by name, size and mtime.
CONTENT_HASH_LIMIT = 64 * 1024 * 1024
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
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


def model_identity(
    model: str, revision: str | None = None, hf_config: Any = None
) -> dict[str, Any]:
    """Who the model is, as precisely as can be known cheaply.

    * a local directory: its :func:`directory_fingerprint` (the path itself is left out, so
      moving the directory keeps the cache); an explicit ``revision`` replaces it;
    * a hub id: the commit hash that was resolved when loading ``hf_config`` (a transformers
      config), else the given ``revision``; without either, the moving ``main`` branch is
      used and a warning says so.
    """
    if Path(model).is_dir():
        if revision is not None:
            return {"model": "local", "revision": revision}
        return {"model": "local", "fingerprint": directory_fingerprint(model)}
    if revision is not None and _COMMIT.match(revision):
        return {"model": model, "revision": revision}
    commit = getattr(hf_config, "_commit_hash", None) if hf_config is not None else None
    if commit:
        return {"model": model, "revision": commit}
    if revision is None:
        logger.warning(
            "could not resolve a commit for %s; its cached outputs are keyed by the moving "
            "'main' branch (pass revision=<commit> to pin it)",
            model,
        )
    return {"model": model, "revision": revision or "main"}
