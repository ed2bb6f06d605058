"""Epoch checkpoints: ``OUTPUT/checkpoints/epoch-N/`` written by ``accelerator.save_state``.

A checkpoint holds the model, optimizer, scheduler and RNG states (accelerate's files) plus
``trainer_state.json`` (epochs done, optimizer steps, the metrics so far), written last: a
directory without it is an interrupted save and is never resumed from. Checkpoints are taken
at epoch boundaries and the data order depends only on ``(seed, epoch)``, so the data position
is just the epoch number.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path
from typing import Any

from ropg.errors import UserError
from ropg.utils import io
from ropg.utils.io import atomic_write_json, directory_entries, prepare_output_dir

logger = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"
STATE_FILE = "trainer_state.json"
_EPOCH_DIR = re.compile(r"^epoch-(\d+)$")


def checkpoint_dir(output: Path, epoch: int) -> Path:
    return output / CHECKPOINTS / f"epoch-{epoch}"


def complete_checkpoints(output: Path) -> list[tuple[int, Path]]:
    """``(epoch, directory)`` of every finished checkpoint, oldest first."""
    root = output / CHECKPOINTS
    if not root.is_dir():
        return []
    found = []
    for path in root.iterdir():
        match = _EPOCH_DIR.match(path.name)
        if match and (path / STATE_FILE).is_file():
            found.append((int(match.group(1)), path))
    return sorted(found)


def find_checkpoint(output: Path, resume: str) -> Path:
    """The checkpoint to resume from: ``"latest"`` under ``output`` or an explicit directory."""
    if resume != "latest":
        path = Path(resume)
        if not (path / STATE_FILE).is_file():
            raise UserError(f"{path}: not a complete training checkpoint (no {STATE_FILE})")
        return path
    found = complete_checkpoints(output)
    if not found:
        raise UserError(f"{output}: no complete checkpoint to resume from")
    return found[-1][1]


RUN_FILES = frozenset({"train_config.yaml", "metrics.json", CHECKPOINTS})
"""Names that mark a directory as a ropg training run (or an ``rspg-train`` report)."""
REPORT_FILES = frozenset({"analysis.json", "analysis.md", "winning_rates.png"})


def is_run_directory(output: Path) -> bool:
    """Whether ``output`` holds a ropg training run or an ``rspg-train`` report."""
    names = set(directory_entries(output))
    return bool(names & (RUN_FILES | REPORT_FILES))


def check_run_dir(output: Path, overwrite: bool, flag: str = "--overwrite") -> None:
    """``output`` must be a directory (or not exist) and be empty or a ropg run, unless
    ``overwrite``: a model folder or any other non-empty directory is never written into by
    accident (its files would be replaced without a word)."""
    io.check_output_dir(output)
    names = directory_entries(output)
    if names and not is_run_directory(output) and not overwrite:
        shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        raise UserError(
            f"{output} is not empty and is not a ropg training run (it holds {shown}); "
            f"refusing to write into it: give an empty or new --output-dir, or {flag} to "
            "write into it anyway"
        )


def resume_point(config: Any, output: Path, config_file: str, is_main: bool) -> Path | None:
    """Check ``output`` for a run: the checkpoint to resume from, or None for a fresh run.

    Resuming needs the same result-deciding settings as the saved ``config_file``; a used
    directory is refused unless ``config.resume`` or ``config.overwrite`` (which removes its
    checkpoints) is set, and so is a non-empty directory that is not a ropg run
    (:func:`check_run_dir`).
    """
    check_run_dir(output, bool(config.overwrite))
    used = (output / config_file).exists() or (output / CHECKPOINTS).exists()
    if config.resume:
        checkpoint = find_checkpoint(output, config.resume)
        if (output / config_file).exists():
            saved = type(config).load(output / config_file).result_dict()
            changed = sorted(k for k, v in config.result_dict().items() if saved.get(k) != v)
            if changed:
                raise UserError(
                    f"cannot resume {output}: settings differ from its {config_file} "
                    f"({', '.join(changed)})"
                )
        return checkpoint
    if used and not config.overwrite:
        raise UserError(
            f"{output} already holds a training run; pass --resume to continue it, "
            "--overwrite to start over, or another --output-dir"
        )
    if used and is_main:
        shutil.rmtree(output / CHECKPOINTS, ignore_errors=True)
    if is_main:
        prepare_output_dir(output)
    return None


def read_state(path: Path) -> dict[str, Any]:
    try:
        return json.loads((path / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise UserError(f"{path / STATE_FILE}: unreadable ({error})") from None


def write_state(path: Path, state: dict[str, Any]) -> None:
    atomic_write_json(path / STATE_FILE, state, indent=2)


def prune(output: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` complete checkpoints (0 keeps all)."""
    if keep <= 0:
        return
    for epoch, path in complete_checkpoints(output)[:-keep]:
        logger.debug("removing old checkpoint %s (epoch %d)", path, epoch)
        shutil.rmtree(path, ignore_errors=True)
