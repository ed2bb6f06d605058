"""Helpers shared by the stage modules: specs, pool outputs, resumable-file hygiene."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ropg.benchmark.config import LLMEntry
from ropg.lamp.errors import LampDataError, LampError

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
    from ropg.feedback import feedback_by_id

    _, records = feedback_by_id(path, ids)
    outputs = []
    for example_id in ids:
        retrievers = records[example_id].get("retrievers")
        if not isinstance(retrievers, dict) or method not in retrievers:
            raise LampDataError(path, f"no output of {method!r}", record_id=example_id)
        outputs.append(str(retrievers[method]["output"]))
    return outputs


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
        raise LampError(f"{output}: training stopped before its last epoch")
    shutil.rmtree(output / CHECKPOINTS, ignore_errors=True)
    return result
