"""``rank`` (the baseline pool) and ``ropg-rank`` (the trained ROPG retrievers).

Rankings are stored per task, split and retriever; the generation stages replay them
(:class:`~ropg.benchmark.context.FixedRankings`) instead of ranking again.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from ropg.benchmark.context import Reranker, RunContext, read_rankings, write_rankings
from ropg.benchmark.methods import ropg_name, runs, train_split_pool
from ropg.benchmark.runner import Unit


def ropg_ranking_name(method: str, llm: str) -> str:
    """The rankings file stem of a ROPG retriever trained on ``llm``'s feedback."""
    return f"{ropg_name(method)}@{llm}"


def _rank(
    ctx: RunContext, task: str, split: str, name: str, retriever: Any, use_date: bool, top_k: int
) -> dict[str, Any]:
    from ropg.retrievers.pipeline import rank_split

    loaded = ctx.split(task, split)
    rankings = rank_split(
        retriever() if callable(retriever) else retriever,
        loaded,
        top_k=top_k,
        use_date=use_date,
        show_progress=False,
        query_fallback=ctx.config.query_fallback,
    )
    header = {"retriever": name, "task": task, "split": split, "top_k": top_k}
    write_rankings(ctx.rankings_path(task, split, name), header, rankings)
    return {"queries": len(rankings)}


def _ranked_on(ctx: RunContext, split: str) -> list[str]:
    """The pool retrievers whose rankings of ``split`` are read: all on the eval split; on the
    train split, RSPG's pool members and ROPG's initial retriever (its candidates)."""
    config = ctx.config
    if split == config.eval_split:
        return list(config.retrievers)
    needed = {name for llm in config.llms for name in train_split_pool(config, llm)}
    if any(runs(config, llm, "ropg") for llm in config.llms):
        needed.add(config.ropg.initial)
    return [name for name in config.retrievers if name in needed]


def plan_rank(ctx: RunContext) -> list[Unit]:
    """Per task, split and pool retriever: the top ``max(k, candidates)`` items."""
    config = ctx.config
    top_k = max(config.k, config.candidates)
    units = []
    for task in config.tasks:
        for split in ctx.splits_for():
            for name in _ranked_on(ctx, split):
                entry = config.retrievers[name]
                spec = {
                    "retriever": entry.retriever,
                    "options": entry.options,
                    "use_date": entry.use_date,
                    "top_k": top_k,
                    "query_fallback": config.query_fallback,
                    "data": ctx.data_fingerprint(task, split),
                }
                run = partial(
                    _rank,
                    ctx,
                    task,
                    split,
                    name,
                    partial(ctx.retriever, name),
                    entry.use_date,
                    top_k,
                )
                units.append(Unit("rank", f"{task}/{split}/{name}", spec, run))
    return units


def _ropg_retriever(ctx: RunContext, model_dir: Any, task: str, split: str) -> Any:
    """The trained encoder; with ``ropg.rerank``, over the initial ranking's first items."""
    retriever = ctx.dense_retriever(model_dir)
    rerank = ctx.config.ropg.rerank
    if rerank is None:
        return retriever
    initial = read_rankings(ctx.rankings_path(task, split, ctx.config.ropg.initial))
    return Reranker(retriever, initial, rerank)


def plan_ropg_rank(ctx: RunContext) -> list[Unit]:
    """Per LLM, task, split and ROPG method: rank with the trained encoder."""
    config = ctx.config
    units = []
    for llm in config.llms:
        if not runs(config, llm, "ropg"):
            continue
        for task in config.tasks:
            for split in ctx.splits_for(llm):
                for method in config.ropg.methods:
                    if split != config.eval_split and ropg_name(method) not in train_split_pool(
                        config, llm
                    ):
                        continue  # on the train split only RSPG's pool is read
                    name = ropg_ranking_name(method, llm.name)
                    model_dir = ctx.model_dir(llm.name, task, ropg_name(method))
                    spec = {
                        "use_date": config.ropg.use_date,
                        "rerank": config.ropg.rerank,
                        "top_k": config.k,
                        "query_fallback": config.query_fallback,
                        "data": ctx.data_fingerprint(task, split),
                    }
                    run = partial(
                        _rank,
                        ctx,
                        task,
                        split,
                        name,
                        partial(_ropg_retriever, ctx, model_dir, task, split),
                        config.ropg.use_date,
                        config.k,
                    )
                    deps = (("ropg-train", f"{llm.name}/{task}/{ropg_name(method)}"),)
                    if config.ropg.rerank is not None:
                        deps += (("rank", f"{task}/{split}/{config.ropg.initial}"),)
                    units.append(Unit("ropg-rank", f"{task}/{split}/{name}", spec, run, deps))
    return units
