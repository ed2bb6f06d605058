"""Fingerprints that make a run's numbers checkable: data files, models and code.

- data: BLAKE2b of each question/output file a run read (and the number of examples used);
- models: each LLM's generator identity (hub revision or a hash of a local directory, plus
  decoding parameters) and each dense retriever's encoder identity;
- code: the ropg version, the git commit and whether the tree had local changes, and a hash of
  the ``ropg`` package sources (which changes whenever the code does, git or not).
"""

from __future__ import annotations

import hashlib
import logging
import subprocess
from pathlib import Path
from typing import Any

from ropg.utils.fingerprint import file_digest

logger = logging.getLogger(__name__)

__all__ = ["code_fingerprint", "environment", "file_digest", "source_digest"]


def source_digest(package_dir: Path | None = None) -> str:
    """BLAKE2b-128 over the relative paths and bytes of the package's ``.py`` files."""
    import ropg

    root = package_dir or Path(ropg.__file__).resolve().parent
    digest = hashlib.blake2b(digest_size=16)
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _git(root: Path, *args: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=20, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip()


def code_fingerprint() -> dict[str, Any]:
    """ropg version, git commit and dirtiness (when in a git checkout), and the source digest."""
    import ropg

    root = Path(ropg.__file__).resolve().parent
    info: dict[str, Any] = {
        "ropg_version": getattr(ropg, "__version__", "unknown"),
        "source_blake2b": source_digest(root),
    }
    commit = _git(root, "rev-parse", "HEAD")
    if commit:
        status = _git(root, "status", "--porcelain", "--", ".")
        info["git_commit"] = commit
        info["git_dirty"] = bool(status)
    return info


def environment() -> dict[str, Any]:
    """Versions of the libraries that decide numbers."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    packages = {}
    for name in ("torch", "transformers", "rouge-score", "numpy", "scipy", "vllm"):
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            continue
    return {"python": platform.python_version(), "packages": packages}
