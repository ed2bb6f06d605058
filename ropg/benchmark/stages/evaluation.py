"""``evaluate``, ``ropg-evaluate``, ``rspg-evaluate``: predictions and scores per method.

Each unit writes the method's eval-split predictions in the official LaMP format
(``predictions/<llm>/<task>/<method>.json``, accepted by ``ropg-eval`` and the leaderboard)
and ``scores/<llm>/<task>/<method>.json`` (the official metrics and the per-example values the
significance tests need).
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from ropg.benchmark.config import LLMEntry
from ropg.benchmark.context import RunContext
from ropg.benchmark.methods import POOL_FILES, Method, methods_for
from ropg.benchmark.runner import Unit
from ropg.benchmark.stages.common import pool_outputs
from ropg.errors import DataError
from ropg.utils.io import atomic_write_json

PRODUCERS = {"baselines": "generate", "ropg": "ropg-generate", "rspg": "rspg-select"}
EVALUATE_STAGES = {"baselines": "evaluate", "ropg": "ropg-evaluate", "rspg": "rspg-evaluate"}


def method_outputs(ctx: RunContext, llm: LLMEntry, task: str, method: Method) -> list[str]:
    """The method's outputs on the eval split, in split order."""
    split = ctx.config.eval_split
    ids = ctx.split(task, split).ids
    if method.group in POOL_FILES:
        path = ctx.feedback_path(llm.name, task, split, POOL_FILES[method.group])
        return pool_outputs(path, method.name, ids)
    path = ctx.selection_path(llm.name, task, method.name)
    try:
        chosen = json.loads(path.read_text(encoding="utf-8"))["selected"]
    except (OSError, ValueError, KeyError) as error:
        raise DataError(path, f"unreadable selection ({error})") from None
    from ropg.benchmark.stages.selection import pool_records
    from ropg.selection.analysis import selected_outputs

    names = []
    for example_id in ids:
        if example_id not in chosen:
            raise DataError(path, "no selected retriever", record_id=example_id)
        names.append(chosen[example_id])
    _, records = pool_records(ctx, llm.name, task)  # the merged pool, in split order
    return selected_outputs(records, names)


def _evaluate(ctx: RunContext, llm: LLMEntry, task: str, method: Method) -> dict[str, Any]:
    from ropg.lamp import write_predictions

    split = ctx.split(task, ctx.config.eval_split)
    ctx.require_golds(split)
    outputs = method_outputs(ctx, llm, task, method)
    golds = [example.gold for example in split.examples]
    write_predictions(
        ctx.predictions_path(llm.name, task, method.name), split.task, split.ids, outputs
    )
    metrics = split.task.evaluate(
        golds, outputs, aggregate=ctx.config.aggregate, seed=ctx.config.seed
    )
    per_example = {
        key: [float(v) for v in values]
        for key, values in split.task.per_example(golds, outputs).items()
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


def _dependency(ctx: RunContext, llm: LLMEntry, task: str, method: Method) -> tuple[str, str]:
    if method.group == "rspg":
        return ("rspg-select", f"{llm.name}/{task}/{method.name}")
    return (PRODUCERS[method.group], f"{llm.name}/{task}/{ctx.config.eval_split}")


def evaluate_planner(group: str) -> Any:
    """The planner of the evaluate stage of one method group."""

    def plan(ctx: RunContext) -> list[Unit]:
        config = ctx.config
        units = []
        for llm in config.llms:
            for task in config.tasks:
                for method in methods_for(config, llm, group):
                    spec = {"aggregate": config.aggregate, "seed": config.seed}
                    run = partial(_evaluate, ctx, llm, task, method)
                    deps = (_dependency(ctx, llm, task, method),)
                    key = f"{llm.name}/{task}/{method.name}"
                    units.append(Unit(EVALUATE_STAGES[group], key, spec, run, deps))
        return units

    return plan
