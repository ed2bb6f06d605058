"""``RetrieverFamily``: a new retriever as a benchmark method, in a few lines.

Subclass it, name the family and its column, and build the retriever; its stages rank the
eval split, generate the LLM's k-item prompts through the cache and score them, and its column
appears in table3 next to the baselines (with significance markers against them)::

    class WorstFirst(RetrieverFamily):
        name = "worst-first"
        label = "BM25 reversed"

        def make_retriever(self, ctx, task):
            return ReversedBM25()      # any object with rank / rank_batch
"""

from __future__ import annotations

from typing import Any, ClassVar

from ropg.benchmark.artifacts import RANKINGS
from ropg.benchmark.config import BenchmarkConfig, LLMEntry
from ropg.benchmark.context import RunContext
from ropg.benchmark.family import Method, MethodFamily, Stage
from ropg.benchmark.runner import Unit
from ropg.benchmark.stages.evaluation import evaluate_stage
from ropg.benchmark.stages.generation import pool_unit
from ropg.benchmark.stages.retrieval import rank_unit


class RetrieverFamily(MethodFamily):
    """One retriever with the frozen LLM, as its own family and column.

    Class attributes: ``name`` (the family, its stages' prefix and the method name), ``label``
    (the column header), ``use_date`` (documents with dates), ``version`` (bump it when the
    retriever changes, so stored rankings are redone).
    """

    label: ClassVar[str] = ""
    use_date: ClassVar[bool] = False
    version: ClassVar[int] = 1

    def make_retriever(self, ctx: RunContext, task: str) -> Any:
        """The retriever for ``task`` (built when its ranking unit runs)."""
        raise NotImplementedError

    def stages(self) -> list[Stage]:
        return [
            Stage(f"{self.name}-rank", self.plan_rank, self.name, description=f"rank: {self.name}"),
            Stage(f"{self.name}-generate", self.plan_generate, self.name,
                  description=f"LLM outputs: {self.name}"),
            evaluate_stage(f"{self.name}-evaluate", self.name),
        ]  # fmt: skip

    def methods(self, config: BenchmarkConfig, llm: LLMEntry) -> list[Method]:
        return [Method(self.name, self.label or self.name, self.name)]

    def retrievers(self, config: BenchmarkConfig) -> list[str]:
        return [self.name]

    def plan_rank(self, ctx: RunContext) -> list[Unit]:
        split = ctx.config.eval_split
        spec = {"family": type(self).__qualname__, "version": self.version}
        return [
            rank_unit(
                ctx,
                f"{self.name}-rank",
                task,
                split,
                self.name,
                lambda task=task: self.make_retriever(ctx, task),
                use_date=self.use_date,
                top_k=ctx.config.k,
                spec=spec,
            )  # fmt: skip
            for task in ctx.config.tasks
        ]

    def plan_generate(self, ctx: RunContext) -> list[Unit]:
        split = ctx.config.eval_split
        units = []
        for llm, task in self.llm_tasks(ctx.config):
            rankings = {self.name: ctx.artifacts.get(RANKINGS, (task, split, self.name))}
            stage = f"{self.name}-generate"
            units.append(pool_unit(ctx, stage, llm, task, split, rankings, self.name))
        return units
