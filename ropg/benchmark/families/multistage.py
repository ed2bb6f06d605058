"""``multistage``: the writing-education pipeline (:mod:`ropg.multistage`) in a benchmark run.

=================  ========================================================================
stage              what it does
=================  ========================================================================
multistage-data    the passage-completion splits (``multistage.config``'s data source)
multistage-rows    per table row (ImmedCtx, RankDocBM25, ..., +AuthorPred): what the row
                   needs (rankings, summaries, keywords, trained models), its generations and
                   scores; every artifact cached and resumable in ``multistage/`` of the run
multistage-table   ``multistage.md`` / ``multistage.json``: BLEU / R-1 / R-2 / R-L per row
multistage-lamp    the pipeline as a context builder for LaMP-4/5/7: the run's LLM with the
                   summary and important words in front of the k-item prompt (a table3 column)
=================  ========================================================================
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from ropg.benchmark.artifacts import Handle
from ropg.benchmark.config import BenchmarkConfig, LLMEntry, names_list
from ropg.benchmark.context import RunContext
from ropg.benchmark.family import Method, MethodFamily, Stage
from ropg.benchmark.runner import Unit
from ropg.benchmark.stages.evaluation import evaluate_stage
from ropg.errors import UserError

LAMP_TASKS = ("LaMP-4", "LaMP-5", "LaMP-7")
TABLE_FILES = ("multistage.md", "multistage.json")
CONTEXT_METHOD = "multistage-ctx"


@dataclass
class MultistageSection:
    """The config's ``multistage:`` section.

    Attributes:
        config: a multistage YAML (``benchmarks/configs/multistage.yaml``; relative to the run
            config's directory); None: the defaults.
        profile: ``cpu`` applies that file's ``cpu_overrides`` (the quick start).
        overrides: dotted settings on top (``train.max_steps: 50``).
        lamp_tasks: LaMP tasks that get the context-builder column (of LaMP-4/5/7; default:
            those the run has).
        lamp_retriever: the pool retriever whose ranked items feed the summary and keywords.
        label: the context-builder column's header.
    """

    config: str | None = None
    profile: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    lamp_tasks: list[str] = field(default_factory=list)
    lamp_retriever: str = "bm25"
    label: str = "Multistage ctx"

    def __post_init__(self) -> None:
        self.lamp_tasks = names_list(self.lamp_tasks, "multistage.lamp_tasks", LAMP_TASKS)


class Multistage(MethodFamily):
    """The passage-completion pipeline, and its context fields for LaMP's generation tasks."""

    name = "multistage"
    settings_class = MultistageSection
    description = "writing-education multistage pipeline (arXiv 2308.07968)"
    settings: MultistageSection

    def pipeline_config(self, config: BenchmarkConfig, work_dir: Path | None = None) -> Any:
        """The :class:`~ropg.multistage.config.MultistageConfig` of the run."""
        from ropg.multistage.config import MultistageConfig

        section = self.settings
        path = config.path(section.config) if section.config else None
        overrides = dict(section.overrides)
        if work_dir is not None:
            overrides["work_dir"] = str(work_dir)
        return MultistageConfig.load(path, overrides, profile=section.profile)

    def run_pipeline_config(self, ctx: RunContext) -> Any:
        """The pipeline's config inside a run: its work directory under the run and, unless its
        own config names a ``cache_dir``, the run's caches (one generation cache, one embedding
        cache and one built copy of each model alias for the whole run)."""
        config = self.pipeline_config(ctx.config, self.work_dir(ctx))
        if config.cache_dir is None:
            root = ctx.cache_root
            config.cache_dir = "default" if root is None else str(root)
        return config

    def validate(self, config: BenchmarkConfig) -> None:
        self.pipeline_config(config)  # every setting checked at load
        if self.settings.lamp_retriever not in config.retrievers:
            raise UserError(
                f"config: multistage.lamp_retriever {self.settings.lamp_retriever!r} is not in "
                "retrievers"
            )

    def lamp_tasks(self, config: BenchmarkConfig) -> tuple[str, ...]:
        chosen = self.settings.lamp_tasks or LAMP_TASKS
        return tuple(task for task in config.tasks if task in chosen)

    def methods(self, config: BenchmarkConfig, llm: LLMEntry) -> list[Method]:
        tasks = self.lamp_tasks(config)
        if not tasks:
            return []
        return [Method(CONTEXT_METHOD, self.settings.label, self.name, tasks=tasks)]

    # -- the pipeline --------------------------------------------------------------------------
    def stages(self) -> list[Stage]:
        return [
            Stage("multistage-data", self.plan_data, self.name,
                  description="multistage: passage-completion data"),
            Stage("multistage-rows", self.plan_rows, self.name,
                  description="multistage: per row, models, generations, scores"),
            Stage("multistage-table", self.plan_table, self.name,
                  description="multistage: multistage.md"),
            Stage("multistage-lamp", self.plan_lamp, self.name,
                  description="multistage: summary/keyword context for LaMP-4/5/7"),
            evaluate_stage("multistage-evaluate", self.name, "multistage context predictions"),
        ]  # fmt: skip

    def work_dir(self, ctx: RunContext) -> Path:
        return ctx.run_dir / "multistage"

    def _spec(self, ctx: RunContext) -> dict[str, Any]:
        values = self.pipeline_config(ctx.config).to_dict()
        values.pop("work_dir", None)
        return values

    def _any_llm(self, config: BenchmarkConfig) -> bool:
        return any(self.runs(config, llm) for llm in config.llms)

    def plan_data(self, ctx: RunContext) -> list[Unit]:
        if not self._any_llm(ctx.config):
            return []
        unit = Unit("multistage-data", "data", self._spec(ctx), partial(self._run, ctx, None))
        ctx.artifacts.publish("multistage-data", ("data",), Handle.of(unit))
        return [unit]

    def plan_rows(self, ctx: RunContext) -> list[Unit]:
        if not self._any_llm(ctx.config):
            return []
        from ropg.multistage.rows import row_prerequisites

        data = ctx.artifacts.get("multistage-data", ("data",))
        pipeline = self.pipeline_config(ctx.config)
        earlier = row_prerequisites(list(pipeline.rows), pipeline.rank.base)
        settings = self._spec(ctx)
        units = []
        for row in pipeline.rows:
            spec = {"row": row, "config": settings}
            deps = (data.dep, *(("multistage-rows", name) for name in earlier[row]))
            unit = Unit("multistage-rows", row, spec, partial(self._run, ctx, row), deps)
            ctx.artifacts.publish("multistage-row", (row,), Handle.of(unit))
            units.append(unit)
        return units

    def _run(self, ctx: RunContext, row: str | None) -> dict[str, Any]:
        from ropg.multistage import api

        config = self.run_pipeline_config(ctx)
        if row is None:
            facts = api.build_data(config)
            return {"counts": facts.get("counts")}
        return {"metrics": api.evaluate(config, row).get("metrics")}

    def plan_table(self, ctx: RunContext) -> list[Unit]:
        if not self._any_llm(ctx.config):
            return []
        rows = self.pipeline_config(ctx.config).rows
        deps = tuple(ctx.artifacts.get("multistage-row", (row,)).dep for row in rows)
        return [Unit("multistage-table", "table", {}, partial(self._table, ctx), deps)]

    def _table(self, ctx: RunContext) -> dict[str, Any]:
        from ropg.multistage import api

        config = self.run_pipeline_config(ctx)
        facts = api.run_pipeline(config)  # every row is done: this scores and writes the table
        for name in TABLE_FILES:
            shutil.copyfile(self.work_dir(ctx) / name, ctx.run_dir / name)
        return {"rows": facts["rows"]}

    # -- the LaMP context builder --------------------------------------------------------------
    def plan_lamp(self, ctx: RunContext) -> list[Unit]:
        from ropg.benchmark.families.multistage_lamp import plan_context_units

        return plan_context_units(ctx, self)

    # -- report --------------------------------------------------------------------------------
    def write_report(self, ctx: RunContext) -> list[str]:
        return [name for name in TABLE_FILES if (ctx.run_dir / name).is_file()]

    def report_sections(self, ctx: RunContext) -> list[Any]:
        from ropg.reports import Section, TableBlock

        path = ctx.run_dir / "multistage.json"
        if not path.is_file():
            return []
        rows = json.loads(path.read_text(encoding="utf-8"))["rows"]
        keys = ("bleu", "rouge-1", "rouge-2", "rouge-L")
        headers = ["Method", "BLEU", "R-1", "R-2", "R-L"]
        body = [[row["row"], *(f"{row['metrics'][key]:.2f}" for key in keys)] for row in rows]
        note = "Passage completion, test users unseen; BLEU and ROUGE F in %."
        return [
            Section("multistage", "Multistage pipeline (Teach LLMs to Personalize)",
                    [TableBlock("multistage.md", headers, body, note)])
        ]  # fmt: skip


__all__ = ["Multistage", "MultistageSection"]
