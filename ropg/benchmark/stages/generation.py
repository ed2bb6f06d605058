"""LLM stages: ``generate`` (a k-item prompt per pool retriever), ``ropg-feedback`` (one-item
prompts of the ROPG candidates) and ``ropg-generate`` (the trained ROPG retrievers' prompts).

All three go through :func:`ropg.feedback.collect_feedback`: outputs are cached in the SQLite
generation cache and records are appended to resumable JSONL files, so a killed stage resumes
mid-file and regenerates nothing.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from ropg.benchmark.config import LLMEntry
from ropg.benchmark.context import RunContext, read_rankings
from ropg.benchmark.methods import POOL_FILES, ropg_name, runs, train_split_pool
from ropg.benchmark.runner import Unit
from ropg.benchmark.stages.common import CHUNK_SIZE, llm_spec
from ropg.benchmark.stages.retrieval import ropg_ranking_name
from ropg.benchmark.stages.training import feedback_splits


def _collect(
    ctx: RunContext, llm: LLMEntry, task: str, split: str, group: str, make_planner: Any
) -> dict[str, Any]:
    from ropg.feedback import FeedbackRun, PromptBuilder, collect_feedback

    loaded = ctx.split(task, split)
    ctx.require_golds(loaded)
    builder = PromptBuilder(loaded.task, ctx.prompt_tokenizer(llm), llm.max_length)
    planner = make_planner(builder)
    header = ctx.feedback_header(llm, loaded)
    out = ctx.feedback_path(llm.name, task, split, group)
    collect_feedback(
        loaded,
        planner,
        ctx.generator(llm),
        ctx.generation_config(llm),
        out,
        header,
        FeedbackRun(CHUNK_SIZE, show_progress=ctx.show_progress, restart_on_mismatch=True),
    )
    return {"examples": len(loaded)}


def _pool_planner(ctx: RunContext, task: str, split: str, files: dict[str, str], builder: Any):
    from ropg.feedback import PoolPlanner

    retrievers = {
        name: read_rankings(ctx.rankings_path(task, split, f)) for name, f in files.items()
    }
    return PoolPlanner(retrievers, builder, k=ctx.config.k, use_date=False)


def _pool_units(ctx: RunContext, stage: str, group: str) -> list[Unit]:
    config = ctx.config
    units = []
    for llm in config.llms:
        # RSPG selects among (and its analysis compares) the baselines' eval outputs
        if not (runs(config, llm, group) or group == "baselines" and runs(config, llm, "rspg")):
            continue
        if group == "baselines":
            names = {name: name for name in config.retrievers}
        else:
            names = {ropg_name(m): ropg_ranking_name(m, llm.name) for m in config.ropg.methods}
        for task in config.tasks:
            for split in ctx.splits_for(llm):
                files = names
                if split != config.eval_split:  # the train split: only RSPG's pool is read
                    pool = train_split_pool(config, llm)
                    files = {name: f for name, f in names.items() if name in pool}
                if not files:
                    continue
                producer = "rank" if group == "baselines" else "ropg-rank"
                deps = tuple((producer, f"{task}/{split}/{f}") for f in files.values())
                spec = {"llm": llm_spec(llm), "k": config.k, "retrievers": list(files)}
                make = partial(_pool_planner, ctx, task, split, files)
                run = partial(_collect, ctx, llm, task, split, POOL_FILES[group], make)
                units.append(Unit(stage, f"{llm.name}/{task}/{split}", spec, run, deps))
    return units


def plan_generate(ctx: RunContext) -> list[Unit]:
    """Per LLM, task and split: every pool retriever's k-item prompt, generated and scored."""
    return _pool_units(ctx, "generate", "baselines")


def plan_ropg_generate(ctx: RunContext) -> list[Unit]:
    """Per LLM, task and split: the ROPG retrievers' k-item prompts, generated and scored."""
    return _pool_units(ctx, "ropg-generate", "ropg")


def _candidate_planner(ctx: RunContext, task: str, split: str, builder: Any):
    from ropg.feedback import CandidatePlanner

    initial = ctx.config.ropg.initial
    return CandidatePlanner(
        read_rankings(ctx.rankings_path(task, split, initial)),
        initial,
        builder,
        candidates=ctx.config.candidates,
        use_date=ctx.config.ropg.use_date,
    )


def plan_ropg_feedback(ctx: RunContext) -> list[Unit]:
    """Per LLM, task and split: each of the initial ranking's first ``candidates`` items alone
    in a prompt, generated and scored (the ROPG training signal)."""
    config = ctx.config
    units = []
    for llm in config.llms:
        if not runs(config, llm, "ropg"):
            continue
        for task in config.tasks:
            for split in feedback_splits(ctx):
                spec = {
                    "llm": llm_spec(llm),
                    "candidates": config.candidates,
                    "initial": config.ropg.initial,
                    "use_date": config.ropg.use_date,
                }
                make = partial(_candidate_planner, ctx, task, split)
                run = partial(_collect, ctx, llm, task, split, "candidates", make)
                deps = (("rank", f"{task}/{split}/{config.ropg.initial}"),)
                units.append(Unit("ropg-feedback", f"{llm.name}/{task}/{split}", spec, run, deps))
    return units
