"""``baselines``: the pool retrievers with the frozen LLM (table3's No pers., BM25, ...).

=========  ===============================================================================
stage      what it does
=========  ===============================================================================
rank       every pool retriever ranks the eval split (and the train split where another
           family reads it: RSPG's pool, ROPG's initial ranking)
generate   the LLM answers each pool retriever's k-item prompt (scored against the gold)
evaluate   the pool retrievers' eval-split predictions and scores
=========  ===============================================================================
"""

from __future__ import annotations

from functools import partial

from ropg.benchmark.artifacts import RANKINGS
from ropg.benchmark.config import BenchmarkConfig, LLMEntry
from ropg.benchmark.context import RunContext
from ropg.benchmark.family import Method, MethodFamily, Stage
from ropg.benchmark.runner import Unit
from ropg.benchmark.stages.evaluation import evaluate_stage
from ropg.benchmark.stages.generation import pool_unit
from ropg.benchmark.stages.retrieval import rank_unit

POOL_FILE = "base"


class Baselines(MethodFamily):
    """The pool retrievers of the run's ``retrievers:`` section, one column each."""

    name = "baselines"
    description = "pool retrievers with the frozen LLM"

    def stages(self) -> list[Stage]:
        return [
            Stage("rank", self.plan_rank, self.name,
                  description="rank every split with every pool retriever"),
            Stage("generate", self.plan_generate, self.name,
                  description="LLM outputs per pool retriever (k items)"),
            evaluate_stage("evaluate", self.name, "baseline predictions and scores"),
        ]  # fmt: skip

    def retrievers(self, config: BenchmarkConfig) -> list[str]:
        return list(config.retrievers)

    def methods(self, config: BenchmarkConfig, llm: LLMEntry) -> list[Method]:
        return [
            Method(name, entry.label, self.name, baseline=True)
            for name, entry in config.retrievers.items()
        ]

    def _ranked_on(self, ctx: RunContext, split: str) -> list[str]:
        """All pool retrievers on the eval split; on the train split, what others read."""
        config = ctx.config
        if split == config.eval_split:
            return list(config.retrievers)
        needed = ctx.needed_rankings(split)
        for llm in config.llms:
            needed |= ctx.needed_outputs(llm, split)
        return [name for name in config.retrievers if name in needed]

    def plan_rank(self, ctx: RunContext) -> list[Unit]:
        """Per task, split and pool retriever: the top ``max(k, candidates)`` items."""
        config = ctx.config
        top_k = max(config.k, config.candidates)
        units = []
        for task in config.tasks:
            for split in ctx.splits_for():
                for name in self._ranked_on(ctx, split):
                    entry = config.retrievers[name]
                    spec = {"retriever": entry.retriever, "options": entry.options}
                    make = partial(ctx.retriever, name)
                    units.append(
                        rank_unit(
                            ctx,
                            "rank",
                            task,
                            split,
                            name,
                            make,
                            use_date=entry.use_date,
                            top_k=top_k,
                            spec=spec,
                        )  # fmt: skip
                    )
        return units

    def _generated_on(self, ctx: RunContext, llm: LLMEntry, split: str) -> list[str]:
        config = ctx.config
        needed = ctx.needed_outputs(llm, split) & set(config.retrievers)
        if split == config.eval_split and (self.runs(config, llm) or needed):
            return list(config.retrievers)  # everything that is compared on the eval split
        return [name for name in config.retrievers if name in needed]

    def plan_generate(self, ctx: RunContext) -> list[Unit]:
        """Per LLM, task and split: every pool retriever's k-item prompt, generated and scored."""
        units = []
        for llm in ctx.config.llms:
            for task in ctx.config.tasks:
                for split in ctx.splits_for(llm):
                    names = self._generated_on(ctx, llm, split)
                    if names:
                        rankings = {
                            name: ctx.artifacts.get(RANKINGS, (task, split, name)) for name in names
                        }
                        units.append(
                            pool_unit(ctx, "generate", llm, task, split, rankings, POOL_FILE)
                        )
        return units
