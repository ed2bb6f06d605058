"""Evaluate stages: a family's methods' eval-split predictions and scores.

Each unit writes one method's predictions in the official LaMP format
(``predictions/<llm>/<task>/<method>.json``, accepted by ``ropg-eval`` and the leaderboard)
and ``scores/<llm>/<task>/<method>.json`` (the official metrics and the per-example values the
significance tests need). The outputs come from the handle the producing unit published
(:data:`~ropg.benchmark.artifacts.METHOD_OUTPUTS`), whatever family made them.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from ropg.benchmark.artifacts import METHOD_OUTPUTS, Handle
from ropg.benchmark.config import LLMEntry
from ropg.benchmark.context import RunContext
from ropg.benchmark.family import Method
from ropg.benchmark.runner import Stage, Unit
from ropg.utils.io import atomic_write_json


def _evaluate(
    ctx: RunContext, llm: LLMEntry, task: str, method: Method, outputs: Handle
) -> dict[str, Any]:
    from ropg.lamp import write_predictions

    split = ctx.split(task, ctx.config.eval_split)
    ctx.require_golds(split)
    predictions = list(outputs.read()) if outputs.read is not None else []
    golds = [example.gold for example in split.examples]
    write_predictions(
        ctx.predictions_path(llm.name, task, method.name), split.task, split.ids, predictions
    )
    metrics = split.task.evaluate(
        golds, predictions, aggregate=ctx.config.aggregate, seed=ctx.config.seed
    )
    per_example = {
        key: [float(v) for v in values]
        for key, values in split.task.per_example(golds, predictions).items()
    }
    atomic_write_json(
        ctx.scores_path(llm.name, task, method.name),
        {
            "llm": llm.name,
            "task": task,
            "split": split.split,
            "method": method.name,
            "ids": split.ids,
            "metrics": metrics,
            "per_example": per_example,
        },
    )
    return {"metrics": metrics}


def evaluate_stage(name: str, family: str, description: str = "") -> Stage:
    """The stage that scores every method of ``family`` for every LLM that runs it."""

    def plan(ctx: RunContext) -> list[Unit]:
        config = ctx.config
        owner = config.family(family)
        units = []
        for llm in config.llms:
            if not owner.runs(config, llm):
                continue
            for task in config.tasks:
                for method in owner.methods(config, llm):
                    if not method.runs_on(task):
                        continue
                    key = (llm.name, task, method.name)
                    outputs = ctx.artifacts.get(METHOD_OUTPUTS, key, f"{name} {'/'.join(key)}")
                    spec = {"aggregate": config.aggregate, "seed": config.seed}
                    run = partial(_evaluate, ctx, llm, task, method, outputs)
                    units.append(Unit(name, "/".join(key), spec, run, (outputs.dep,)))
        return units

    return Stage(name, plan, family, description=description or f"{family} predictions and scores")
