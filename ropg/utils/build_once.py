"""Build a model directory once, safely when several processes build it at the same time.

A build goes to a temporary directory next to the target and appears by one rename, so no
reader ever sees half a model; when another process's build got there first, that one is used
and ours is discarded (parallel benchmark jobs and runs sharing a cache both rely on this).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from ropg.errors import UserError


def model_is_built(target: Path) -> bool:
    """Whether ``target`` is a finished model build (builds appear whole, by one rename)."""
    return (target / "config.json").is_file()


def build_once(
    target: str | os.PathLike[str],
    build: Callable[[Path], object],
    what: str,
    complete: Callable[[Path], bool] = model_is_built,
) -> tuple[Path, bool]:
    """``build(temporary)`` renamed to ``target`` unless ``target`` is ``complete`` already;
    returns ``(target, whether this call built it)``."""
    target = Path(target)
    if complete(target):
        return target, False
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        build(temporary)
        try:
            os.rename(temporary, target)  # atomic; fails when the target is already there
        except OSError:
            if not complete(target):  # not a concurrent build that finished first
                raise UserError(
                    f"{target}: exists but is not a complete {what}; remove it to rebuild"
                ) from None
            shutil.rmtree(temporary, ignore_errors=True)  # another process built it: use theirs
            return target, False
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return target, True
