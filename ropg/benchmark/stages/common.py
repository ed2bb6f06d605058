"""Helpers shared by the stage modules: specs, pool outputs, resumable-file hygiene."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from ropg.benchmark.config import LLMEntry
from ropg.benchmark.runner import Unit
from ropg.errors import DataError, UserError

logger = logging.getLogger(__name__)

CHUNK_SIZE = 64  # examples per feedback chunk: a killed run loses at most one chunk


def llm_spec(llm: LLMEntry) -> dict[str, Any]:
    """The LLM settings that decide its outputs (labels and method choices left out)."""
    return {
        "spec": llm.spec,
        "options": llm.options,
        "generation": llm.generation,
        "prompt_tokenizer": llm.prompt_tokenizer,
        "max_length": llm.max_length,
        "build": llm.build,
    }


def pool_outputs(path: Path, method: str, ids: list[str]) -> list[str]:
    """The outputs retriever ``method`` got for ``ids`` in a pool feedback file."""
    from ropg.feedback.jsonl import read_feedback
    from ropg.feedback.records import read_pool_record

    _, values = read_feedback(path)
    outputs = {}
    for index, value in enumerate(values, start=1):
        record = read_pool_record(value, path, index, [method])
        outputs[record.id] = record.retrievers[method].output
    missing = [example_id for example_id in ids if example_id not in outputs]
    if missing:
        raise DataError(path, f"no output of {method!r}", record_id=missing[0])
    return [str(outputs[example_id]) for example_id in ids]


# settings that name files of this run: their content is covered by the deps' fingerprints
PATH_SETTINGS = ("output_dir", "train_feedback", "dev_feedback", "data", "resume", "overwrite")


def training_unit(
    stage: str,
    key: str,
    config: Any,
    train: Callable[[Any], Any],
    output: Path,
    deps: tuple[tuple[str, str], ...],
) -> Unit:
    """A unit that trains one model: ``config`` (built once, at planning) gives the spec (its
    settings but file paths) and is what :func:`train_resumably` runs."""
    spec = {k: v for k, v in config.result_dict().items() if k not in PATH_SETTINGS}
    return Unit(stage, key, spec, partial(_run_training, train, config, output), deps)


def _run_training(train: Callable[[Any], Any], config: Any, output: Path) -> dict[str, Any]:
    result = train_resumably(train, config, output)
    history = result.metrics.get("history") if isinstance(result.metrics, dict) else None
    return {"epochs": config.epochs, "history": history}


def train_resumably(train: Callable[[Any], Any], config: Any, output: Path) -> Any:
    """Run a ropg trainer: resume from its last epoch checkpoint if a killed run left one,
    else start over; remove the checkpoints once the final model is written."""
    from ropg.training.checkpoints import CHECKPOINTS, complete_checkpoints

    if complete_checkpoints(output):
        config.resume = "latest"
    else:
        config.overwrite = True
    result = train(config)
    if not result.completed:
        raise UserError(f"{output}: training stopped before its last epoch")
    shutil.rmtree(output / CHECKPOINTS, ignore_errors=True)
    return result
