"""Stable model identities: a hub commit, or a fast fingerprint of a local model directory."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from ropg.utils.fingerprint import directory_fingerprint

__all__ = ["directory_fingerprint", "model_identity"]

logger = logging.getLogger(__name__)

_COMMIT = re.compile(r"^[0-9a-f]{40}$")


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
