"""Ranking units: one task's split ranked by one retriever, stored for later stages.

Rankings are stored per task, split and retriever; later stages replay them
(:class:`~ropg.benchmark.context.FixedRankings`) instead of ranking again.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from ropg.benchmark.artifacts import RANKINGS, Handle
from ropg.benchmark.context import RunContext, write_rankings
from ropg.benchmark.runner import Unit


def _rank(
    ctx: RunContext,
    task: str,
    split: str,
    name: str,
    make_retriever: Callable[[], Any],
    use_date: bool,
    top_k: int,
) -> dict[str, Any]:
    from ropg.retrievers.pipeline import rank_split

    loaded = ctx.split(task, split)
    rankings = rank_split(
        make_retriever(),
        loaded,
        top_k=top_k,
        use_date=use_date,
        show_progress=False,
        query_fallback=ctx.config.query_fallback,
    )
    header = {"retriever": name, "task": task, "split": split, "top_k": top_k}
    write_rankings(ctx.rankings_path(task, split, name), header, rankings)
    return {"queries": len(rankings)}


def rank_unit(
    ctx: RunContext,
    stage: str,
    task: str,
    split: str,
    name: str,
    make_retriever: Callable[[], Any],
    *,
    use_date: bool,
    top_k: int,
    spec: dict[str, Any],
    deps: tuple[tuple[str, str], ...] = (),
) -> Unit:
    """A unit that ranks ``task``'s ``split`` with ``make_retriever()`` (built when it runs)
    and stores the top ``top_k``; its handle is published as :data:`RANKINGS`."""
    spec = {
        **spec,
        "use_date": use_date,
        "top_k": top_k,
        "query_fallback": ctx.config.query_fallback,
        "data": ctx.data_fingerprint(task, split),
    }
    run = partial(_rank, ctx, task, split, name, make_retriever, use_date, top_k)
    unit = Unit(stage, f"{task}/{split}/{name}", spec, run, deps)
    ctx.artifacts.publish(
        RANKINGS, (task, split, name), Handle.of(unit, ctx.rankings_path(task, split, name))
    )
    return unit
