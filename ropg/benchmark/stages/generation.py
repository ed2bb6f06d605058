"""LLM units: a k-item prompt per retriever (a *pool* file) or any planner, generated and scored.

Every unit goes through :func:`ropg.feedback.collect_feedback`: outputs are cached in the
SQLite generation cache and records are appended to resumable JSONL files, so a killed stage
resumes mid-file and regenerates nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

from ropg.benchmark.artifacts import METHOD_OUTPUTS, RETRIEVER_OUTPUTS, Handle
from ropg.benchmark.config import LLMEntry
from ropg.benchmark.context import RunContext, read_rankings
from ropg.benchmark.runner import Unit
from ropg.benchmark.stages.common import CHUNK_SIZE, llm_spec, pool_outputs


def collect(
    ctx: RunContext, llm: LLMEntry, task: str, split: str, out: Path, make_planner: Any
) -> dict[str, Any]:
    """Run one feedback job: ``make_planner(prompt_builder)`` over the split into ``out``."""
    from ropg.feedback import FeedbackRun, PromptBuilder, collect_feedback

    loaded = ctx.split(task, split)
    ctx.require_golds(loaded)
    endpoint = ctx.endpoint(llm)
    planner = make_planner(PromptBuilder(loaded.task, endpoint.prompt_tokenizer, llm.max_length))
    header = ctx.feedback_header(llm, loaded)
    collect_feedback(
        loaded,
        planner,
        endpoint,
        out,
        header,
        FeedbackRun(CHUNK_SIZE, show_progress=ctx.show_progress, restart_on_mismatch=True),
    )
    return {"examples": len(loaded)}


def _pool_planner(ctx: RunContext, rankings: Mapping[str, Handle], builder: Any) -> Any:
    from ropg.feedback import PoolPlanner

    retrievers = {name: read_rankings(handle.path) for name, handle in rankings.items()}
    return PoolPlanner(retrievers, builder, k=ctx.config.k, use_date=False)


def pool_unit(
    ctx: RunContext,
    stage: str,
    llm: LLMEntry,
    task: str,
    split: str,
    rankings: Mapping[str, Handle],
    file_group: str,
) -> Unit:
    """A unit that writes every retriever's k-item prompt, output and score for one LLM, task
    and split into a pool file; each retriever's outputs are published as
    :data:`RETRIEVER_OUTPUTS`, and on the eval split as :data:`METHOD_OUTPUTS`."""
    out = ctx.feedback_path(llm.name, task, split, file_group)
    spec = {"llm": llm_spec(llm), "k": ctx.config.k, "retrievers": list(rankings)}
    run = partial(collect, ctx, llm, task, split, out, partial(_pool_planner, ctx, rankings))
    deps = tuple(handle.dep for handle in rankings.values())
    unit = Unit(stage, f"{llm.name}/{task}/{split}", spec, run, deps)
    for name in rankings:
        handle = Handle.of(unit, out)
        ctx.artifacts.publish(RETRIEVER_OUTPUTS, (llm.name, task, split, name), handle)
        if split == ctx.config.eval_split:
            read = partial(_read_outputs, ctx, out, name, task, split)
            outputs = Handle.of(unit, out, read)
            ctx.artifacts.publish(METHOD_OUTPUTS, (llm.name, task, name), outputs)
    return unit


def _read_outputs(ctx: RunContext, path: Path, name: str, task: str, split: str) -> list[str]:
    return pool_outputs(path, name, ctx.split(task, split).ids)
