"""``ropg-train``: one ROPG-KD / ROPG-RL dense retriever per LLM and task.

The training settings are the method's ``ropg-train`` YAML (``ropg.configs``), then the
run's own (task, data, feedback files, candidates, initial model), then ``ropg.overrides``.
A killed training resumes from its last epoch checkpoint; the checkpoints are removed once
the final encoder is written.
"""

from __future__ import annotations

import logging
from typing import Any

from ropg.benchmark.context import RunContext
from ropg.benchmark.methods import ropg_name, runs
from ropg.benchmark.runner import Unit
from ropg.benchmark.stages.common import training_unit
from ropg.errors import UserError

logger = logging.getLogger(__name__)


def feedback_splits(ctx: RunContext) -> list[str]:
    """Splits that get candidates feedback: train, and the eval split for per-epoch dev figures
    when ``ropg.dev_feedback``."""
    config = ctx.config
    splits = [config.train_split]
    if config.ropg.dev_feedback and config.eval_split != config.train_split:
        splits.append(config.eval_split)
    return splits


def initial_model(ctx: RunContext) -> str:
    """The encoder ROPG starts from: ``ropg.model`` or the initial retriever's ``model``."""
    section = ctx.config.ropg
    model = section.model or ctx.config.retrievers[section.initial].options.get("model")
    if not model:
        raise UserError(
            f"ropg: set ropg.model (the initial retriever {section.initial!r} has no model option)"
        )
    return str(model)


def train_config(ctx: RunContext, llm: str, task: str, method: str) -> Any:
    """The resolved :class:`~ropg.training.RopgTrainConfig` of one ROPG model."""
    from ropg.training.config import RopgTrainConfig

    config = ctx.config
    yaml_path = config.ropg.configs.get(method)
    dev = [
        str(ctx.feedback_path(llm, task, split, "candidates"))
        for split in feedback_splits(ctx)
        if split != config.train_split
    ]
    values: dict[str, Any] = {
        "method": method,
        "task": task,
        "data": ctx.data_source,
        "layout": config.layout,
        "train_split": config.train_split,
        "dev_split": config.eval_split,
        "train_feedback": [str(ctx.feedback_path(llm, task, config.train_split, "candidates"))],
        "dev_feedback": dev,
        "limit_train": config.limit,
        "limit_dev": config.limit,
        "candidates": config.candidates,
        "use_date": config.ropg.use_date,
        "model": ctx.resolve_model(initial_model(ctx)),
        "seed": config.seed,
        "output_dir": str(ctx.model_dir(llm, task, ropg_name(method))),
    }
    overrides = dict(config.ropg.overrides)
    if "model" in overrides:
        overrides["model"] = ctx.resolve_model(overrides["model"])
    values.update(overrides)
    return RopgTrainConfig.load(config.path(yaml_path) if yaml_path else None, values)


def _train(config: Any) -> Any:
    from ropg.training import train

    return train(config)


def plan_ropg_train(ctx: RunContext) -> list[Unit]:
    """Per LLM, task and ROPG method: train a dense retriever from the candidates feedback."""
    config = ctx.config
    units = []
    for llm in config.llms:
        if not runs(config, llm, "ropg"):
            continue
        for task in config.tasks:
            splits = feedback_splits(ctx)
            deps = tuple(("ropg-feedback", f"{llm.name}/{task}/{split}") for split in splits)
            for method in config.ropg.methods:
                key = f"{llm.name}/{task}/{ropg_name(method)}"
                output = ctx.model_dir(llm.name, task, ropg_name(method))
                settings = train_config(ctx, llm.name, task, method)
                units.append(training_unit("ropg-train", key, settings, _train, output, deps))
    return units
