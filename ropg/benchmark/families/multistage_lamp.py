"""The multistage pipeline as a context builder for LaMP-4/5/7 (a table3 column): the run's LLM
gets the summary and important words of the ranked profile items in front of its k-item
prompt (a chained step of :mod:`ropg.feedback.steps`)."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from ropg.benchmark.artifacts import METHOD_OUTPUTS, RANKINGS, Handle
from ropg.benchmark.config import LLMEntry
from ropg.benchmark.context import RunContext, read_rankings
from ropg.benchmark.runner import Unit
from ropg.benchmark.stages.common import CHUNK_SIZE, llm_spec

STEP = "multistage-context"


def _fields(ctx: RunContext, family: Any, task: str, rankings_path: Path) -> dict[str, Any]:
    from ropg.multistage.lamp_context import LampContextSettings, lamp_context_fields

    split = ctx.split(task, ctx.config.eval_split)
    config = family.pipeline_config(ctx.config)
    root = ctx.cache_root
    settings = LampContextSettings(
        max_chars=config.rank.max_chars,
        summary_generator=config.summary.generator,
        summary_options=dict(config.summary.options),
        summary_generation=dict(config.summary.generation),
        cache_path=None if root is None else str(root / "generations.sqlite"),
    )
    return lamp_context_fields(split, read_rankings(rankings_path).rankings, settings)


def _collect(
    ctx: RunContext, family: Any, llm: LLMEntry, task: str, rankings_path: Path, out: Path
) -> dict[str, Any]:
    from ropg.feedback import FeedbackRun, StepPlanner, collect_feedback
    from ropg.lamp.prompts import TaskPrompt
    from ropg.multistage.lamp_context import with_context_fields

    split = ctx.split(task, ctx.config.eval_split)
    endpoint = ctx.endpoint(llm)
    fields = _fields(ctx, family, task, rankings_path)
    rankings = read_rankings(rankings_path)

    def prompt(example: Any, items: Any) -> str:
        base = split.task.prompt(example.input, items, endpoint.prompt_tokenizer, llm.max_length)
        text = with_context_fields(base, fields[example.id])
        return TaskPrompt(text, base.task, base.input, base.items)  # readers still see the items

    planner = StepPlanner(
        STEP, split.task, prompt, retriever=rankings, k=ctx.config.k,
        settings={"retriever": family.settings.lamp_retriever, "fields": sorted(
            {name for entry in fields.values() for name in entry})},
    )  # fmt: skip
    collect_feedback(
        split, planner, endpoint, out, ctx.feedback_header(llm, split),
        FeedbackRun(CHUNK_SIZE, show_progress=ctx.show_progress, restart_on_mismatch=True),
    )  # fmt: skip
    return {"examples": len(split)}


def _outputs(ctx: RunContext, task: str, out: Path) -> list[str]:
    from ropg.feedback import StepOutputs

    ids = ctx.split(task, ctx.config.eval_split).ids
    outputs = StepOutputs.load(out, ids)
    return [outputs[example_id] for example_id in ids]


def plan_context_units(ctx: RunContext, family: Any) -> list[Unit]:
    """Per LLM that runs the family and LaMP-4/5/7 task: the context-builder generations."""
    from ropg.benchmark.families.multistage import CONTEXT_METHOD

    config = ctx.config
    split = config.eval_split
    units = []
    for llm, task in family.llm_tasks(config):
        if task not in family.lamp_tasks(config):
            continue
        ranked = ctx.artifacts.get(RANKINGS, (task, split, family.settings.lamp_retriever))
        out = ctx.feedback_path(llm.name, task, split, "multistage")
        spec = {"llm": llm_spec(llm), "k": config.k, "pipeline": family._spec(ctx)}
        run = partial(_collect, ctx, family, llm, task, ranked.path, out)
        unit = Unit("multistage-lamp", f"{llm.name}/{task}", spec, run, (ranked.dep,))
        read = partial(_outputs, ctx, task, out)
        ctx.artifacts.publish(METHOD_OUTPUTS, (llm.name, task, CONTEXT_METHOD),
                              Handle.of(unit, out, read))  # fmt: skip
        units.append(unit)
    return units
