"""``rpo``: RPO reflection on the run's LLM (the black-box base model) — the retrieval x
reflection grid.

=============  ===========================================================================
stage          what it does
=============  ===========================================================================
rpo-generic    the LLM's zero-shot answer ``g`` per input (train and eval split)
rpo-contexts   profile rankings on ``rpo.query`` (default ``input+generic``): the training
               retriever's on the train split; every grid row's on the eval split (RSPG's row
               replays the items of the retriever RSPG-Pre chose)
rpo-train      teacher trajectories -> SFT -> RL with the K-item curriculum (trl)
rpo-reflect    per grid row: the LLM with the row's items (no reflection), and the reflection
               model after SFT and after SFT + RL rewriting ``g`` with those items
rpo-evaluate   every cell's predictions and scores
=============  ===========================================================================

``rpo.md`` holds, per task, the columns Zero-shot (``g``), RAG (the LLM with the k-item
prompt), RPO w/o RL (SFT) and RPO (SFT + RL) — the grid row of ``rpo.retriever`` — and the
whole grid, each cell marked when significantly better than its row's "no reflection" cell.
Everything under ``models/<llm>/<task>/rpo/`` is one RPO run directory of
:mod:`ropg.reflection` (``train/``, ``sft/``, ``rl/``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from ropg.benchmark.artifacts import METHOD_OUTPUTS, Handle
from ropg.benchmark.config import BenchmarkConfig, LLMEntry, names_list
from ropg.benchmark.context import RunContext
from ropg.benchmark.family import Method, MethodFamily, Stage
from ropg.benchmark.runner import Unit
from ropg.benchmark.stages.common import llm_spec
from ropg.benchmark.stages.evaluation import evaluate_stage
from ropg.errors import DataError, UserError

GENERIC, CONTEXTS, TRAINED = "rpo-generic", "rpo-contexts", "rpo-trained"
COLUMNS = {"none": "no reflection", "sft": "RPO w/o RL", "rl": "RPO"}
MAIN = {"rpo-zero-shot": "Zero-shot", "rpo-rag": "RAG", "rpo-sft": "RPO w/o RL", "rpo": "RPO"}
RSPG_ROW = "rspg"


@dataclass
class RpoSection:
    """RPO in a benchmark run (the config's ``rpo:`` section; :mod:`ropg.reflection`).

    Attributes:
        reflection_model: the model SFT starts from (Hub id, directory, or ``tiny-chat``: a
            tiny chat model built on the fly for smoke runs).
        retriever: the pool retriever of the training contexts and of the RAG/RPO columns.
        query: ``input``, ``generic`` or ``input+generic`` (the paper's).
        k: items shown at inference (None: the run's ``k``).
        teacher: ``stand-in`` (rules from the gold; smoke runs) or a generator spec.
        teacher_items: items the teacher sees (the paper: 1).
        teacher_options, teacher_generation: the LLM teacher's backend options and decoding.
        rows: the grid's context sources: pool retrievers and ``rspg`` (default: every pool
            retriever, and ``rspg`` when the run's RSPG family runs for the LLM).
        reflection_generation: the reflection model's decoding at inference.
        sft, rl: settings of the SFT and RL stages (``rpo-train --stage sft|rl`` fields).
        tasks: the tasks RPO runs on (default: every task of the run).
        limit_train: train on the first N training inputs only (None: all).
    """

    reflection_model: str = "tiny-chat"
    retriever: str = "contriever"
    query: str = "input+generic"
    k: int | None = None
    teacher: str = "stand-in"
    teacher_items: int = 1
    teacher_options: dict[str, Any] = field(default_factory=dict)
    teacher_generation: dict[str, Any] = field(default_factory=dict)
    rows: list[str] = field(default_factory=list)
    reflection_generation: dict[str, Any] = field(default_factory=dict)
    sft: dict[str, Any] = field(default_factory=dict)
    rl: dict[str, Any] = field(default_factory=dict)
    tasks: list[str] = field(default_factory=list)
    limit_train: int | None = None

    def __post_init__(self) -> None:
        self.rows = names_list(self.rows, "rpo.rows")
        self.tasks = names_list(self.tasks, "rpo.tasks")


def cell_name(row: str, column: str) -> str:
    """The method name of one grid cell (``rpo-grid:bm25:sft``)."""
    return f"rpo-grid:{row}:{column}"


class Rpo(MethodFamily):
    """RPO over the run's LLMs (each one the black-box base model of its own RPO run)."""

    name = "rpo"
    settings_class = RpoSection
    description = "RPO: generic answer -> retrieval -> reflection rewrite (SFT, RL)"
    settings: RpoSection

    # -- configuration ---------------------------------------------------------------------
    def validate(self, config: BenchmarkConfig) -> None:
        from ropg.reflection.config import QUERY_KINDS
        from ropg.reflection.train_config import RpoRlSettings, RpoSftSettings
        from ropg.utils.config import known_settings

        section = self.settings
        if section.query not in QUERY_KINDS:
            raise UserError(f"config: rpo.query must be one of {QUERY_KINDS}")
        if section.retriever not in config.retrievers:
            raise UserError(f"config: rpo.retriever {section.retriever!r} is not in retrievers")
        unknown = [r for r in section.rows if r != RSPG_ROW and r not in config.retrievers]
        if unknown:
            raise UserError(f"config: rpo.rows {unknown} are neither pool retrievers nor rspg")
        known_settings(RpoSftSettings, section.sft, "rpo.sft")
        known_settings(RpoRlSettings, section.rl, "rpo.rl")
        outside = [task for task in section.tasks if task not in config.tasks]
        if outside:
            raise UserError(f"config: rpo.tasks {outside} are not tasks of the run")
        if section.limit_train is not None and section.limit_train < 1:
            raise UserError("config: rpo.limit_train must be >= 1")

    def llm_tasks(self, config: BenchmarkConfig) -> Any:
        """Only ``rpo.tasks`` (when given)."""
        tasks = self.settings.tasks
        return (
            (llm, task) for llm, task in super().llm_tasks(config) if not tasks or task in tasks
        )

    def split(self, ctx: RunContext, task: str, split: str) -> Any:
        """A split as RPO uses it: the train split cut to ``limit_train``."""
        loaded = ctx.split(task, split)
        return loaded.head(self.settings.limit_train) if split == ctx.config.train_split else loaded

    def learns(self, config: BenchmarkConfig, llm: LLMEntry) -> bool:
        return self.runs(config, llm)

    def rows(self, config: BenchmarkConfig, llm: LLMEntry) -> list[str]:
        rows = list(self.settings.rows)
        if not rows:
            rows = ["none", *[n for n in config.retrievers if n != "none"]]
            rows = [n for n in rows if n in config.retrievers]
            if "rspg" in config.sections and config.family("rspg").runs(config, llm):
                rows.append(RSPG_ROW)
        if self.settings.retriever not in rows:
            rows.insert(0, self.settings.retriever)
        return rows

    def methods(self, config: BenchmarkConfig, llm: LLMEntry) -> list[Method]:
        tasks = tuple(self.settings.tasks) or None
        methods = [
            Method(name, label, self.name, baseline=name in ("rpo-zero-shot", "rpo-rag"),
                   table="rpo", tasks=tasks)
            for name, label in MAIN.items()
        ]  # fmt: skip
        methods += [
            Method(cell_name(row, column), f"{row}: {label}", self.name, table="rpo-grid",
                   tasks=tasks)
            for row in self.rows(config, llm)
            for column, label in COLUMNS.items()
        ]  # fmt: skip
        return methods

    def k(self, config: BenchmarkConfig) -> int:
        return self.settings.k or config.k

    # -- stages ------------------------------------------------------------------------------
    def stages(self) -> list[Stage]:
        return [
            Stage("rpo-generic", self.plan_generic, self.name, description="RPO: g per input"),
            Stage("rpo-contexts", self.plan_contexts, self.name,
                  description="RPO: rankings on input+g per context source"),
            Stage("rpo-train", self.plan_train, self.name,
                  description="RPO: trajectories, SFT, RL"),
            Stage("rpo-reflect", self.plan_reflect, self.name,
                  description="RPO: the retrieval x reflection grid"),
            evaluate_stage("rpo-evaluate", self.name, "RPO predictions and scores"),
        ]  # fmt: skip

    def run_dir(self, ctx: RunContext, llm: str, task: str) -> Path:
        return ctx.model_dir(llm, task, "rpo")

    def splits(self, ctx: RunContext) -> list[str]:
        return list(dict.fromkeys([ctx.config.train_split, ctx.config.eval_split]))

    def plan_generic(self, ctx: RunContext) -> list[Unit]:
        from ropg.benchmark.families import rpo_steps as steps

        units = []
        for llm, task in self.llm_tasks(ctx.config):
            for split in self.splits(ctx):
                path = self.run_dir(ctx, llm.name, task) / split / "generic.jsonl"
                spec = {
                    "llm": llm_spec(llm),
                    "data": ctx.data_fingerprint(task, split),
                    "limit": self.settings.limit_train if split == ctx.config.train_split else None,
                }
                run = partial(steps.generic, ctx, llm, task, split, path)
                unit = Unit("rpo-generic", f"{llm.name}/{task}/{split}", spec, run)
                ctx.artifacts.publish(GENERIC, (llm.name, task, split), Handle.of(unit, path))
                if split == ctx.config.eval_split:
                    read = partial(steps.read_outputs, ctx, task, split, path)
                    ctx.artifacts.publish(
                        METHOD_OUTPUTS, (llm.name, task, "rpo-zero-shot"),
                        Handle.of(unit, path, read),
                    )  # fmt: skip
                units.append(unit)
        return units

    def plan_contexts(self, ctx: RunContext) -> list[Unit]:
        from ropg.benchmark.families import rpo_steps as steps

        config, section = ctx.config, self.settings
        depth = max(self.k(config), 6, section.teacher_items)
        units = []
        for llm, task in self.llm_tasks(config):
            for split in self.splits(ctx):
                sources = self.rows(config, llm) if split == config.eval_split else []
                if split == config.train_split:
                    sources = list(dict.fromkeys([section.retriever, *sources]))
                generic = ctx.artifacts.get(GENERIC, (llm.name, task, split))
                for source in sources:
                    path = self.run_dir(ctx, llm.name, task) / split / f"contexts.{source}.json"
                    deps: tuple[tuple[str, str], ...] = (generic.dep,)
                    if source == RSPG_ROW:
                        chosen = ctx.artifacts.get(METHOD_OUTPUTS, (llm.name, task, "rspg-pre"))
                        deps += (chosen.dep,)
                        run = partial(steps.rspg_contexts, ctx, llm.name, task, path)
                        spec: dict[str, Any] = {"source": "rspg-pre"}
                    else:
                        entry = config.retrievers[source]
                        spec = {"retriever": entry.retriever, "options": entry.options,
                                "use_date": entry.use_date, "query": section.query,
                                "depth": depth}  # fmt: skip
                        run = partial(
                            steps.contexts, ctx, task, split, source, generic.path, depth, path
                        )
                    unit = Unit("rpo-contexts", f"{llm.name}/{task}/{split}/{source}", spec,
                                run, deps)  # fmt: skip
                    ctx.artifacts.publish(
                        CONTEXTS, (llm.name, task, split, source), Handle.of(unit, path)
                    )
                    units.append(unit)
        return units

    def plan_train(self, ctx: RunContext) -> list[Unit]:
        from ropg.benchmark.families import rpo_steps as steps

        config, section = ctx.config, self.settings
        units = []
        for llm, task in self.llm_tasks(config):
            split = config.train_split
            generic = ctx.artifacts.get(GENERIC, (llm.name, task, split))
            contexts = ctx.artifacts.get(CONTEXTS, (llm.name, task, split, section.retriever))
            base = self.run_dir(ctx, llm.name, task)
            spec = {
                "teacher": section.teacher,
                "items": section.teacher_items,
                "options": section.teacher_options,
                "generation": section.teacher_generation,
            }
            trajectories = Unit(
                "rpo-train", f"{llm.name}/{task}/trajectories", spec,
                partial(steps.trajectories, ctx, self, task, generic.path, contexts.path, base),
                (generic.dep, contexts.dep),
            )  # fmt: skip
            sft = Unit(
                "rpo-train", f"{llm.name}/{task}/sft",
                {"model": section.reflection_model, "settings": section.sft},
                partial(steps.sft, ctx, self, task, base), (trajectories.ref,),
            )  # fmt: skip
            rl = Unit(
                "rpo-train", f"{llm.name}/{task}/rl", {"settings": section.rl},
                partial(steps.rl, ctx, self, task, generic.path, contexts.path, base),
                (sft.ref, generic.dep, contexts.dep),
            )  # fmt: skip
            for stage, unit in (("sft", sft), ("rl", rl)):
                ctx.artifacts.publish(TRAINED, (llm.name, task, stage), Handle.of(unit, base))
            units += [trajectories, sft, rl]
        return units

    def plan_reflect(self, ctx: RunContext) -> list[Unit]:
        from ropg.benchmark.families import rpo_steps as steps

        config, section = ctx.config, self.settings
        split = config.eval_split
        units = []
        for llm, task in self.llm_tasks(config):
            generic = ctx.artifacts.get(GENERIC, (llm.name, task, split))
            trained = [ctx.artifacts.get(TRAINED, (llm.name, task, s)) for s in ("sft", "rl")]
            grid = self.run_dir(ctx, llm.name, task) / "grid"
            for row in self.rows(config, llm):
                contexts = ctx.artifacts.get(CONTEXTS, (llm.name, task, split, row))
                spec = {"llm": llm_spec(llm), "k": self.k(config), "query": section.query,
                        "generation": section.reflection_generation}  # fmt: skip
                run = partial(steps.grid_row, ctx, self, llm, task, row, generic.path,
                              contexts.path, grid)  # fmt: skip
                deps = (generic.dep, contexts.dep, *(t.dep for t in trained))
                unit = Unit("rpo-reflect", f"{llm.name}/{task}/{row}", spec, run, deps)
                for column in COLUMNS:
                    path = steps.cell_jsonl(grid, row, column)
                    read = partial(steps.read_outputs, ctx, task, split, path)
                    handle = Handle.of(unit, path, read)
                    ctx.artifacts.publish(METHOD_OUTPUTS, (llm.name, task, cell_name(row, column)),
                                          handle)  # fmt: skip
                    if row == section.retriever and column != "none":
                        main = "rpo-sft" if column == "sft" else "rpo"
                        ctx.artifacts.publish(METHOD_OUTPUTS, (llm.name, task, main), handle)
                    elif row == section.retriever:
                        ctx.artifacts.publish(METHOD_OUTPUTS, (llm.name, task, "rpo-rag"), handle)
                units.append(unit)
        return units

    # -- report ------------------------------------------------------------------------------
    def write_report(self, ctx: RunContext) -> list[str]:
        from ropg.benchmark.families.rpo_report import write_rpo_md

        return [write_rpo_md(ctx, self)]

    def report_sections(self, ctx: RunContext) -> list[Any]:
        from ropg.benchmark.families.rpo_report import rpo_section

        return [rpo_section(ctx, self)]


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise DataError(path, f"unreadable ({error})") from None
