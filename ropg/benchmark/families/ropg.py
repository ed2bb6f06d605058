"""``ropg``: dense retrievers trained from the LLM's feedback (ROPG-KD, ROPG-RL).

=============  ============================================================================
stage          what it does
=============  ============================================================================
ropg-feedback  one-item prompts of the initial ranking's first ``candidates`` items, scored
ropg-train     ROPG-KD / ROPG-RL dense retrievers (resumable training, config built once)
ropg-rank      rankings of the trained retrievers
ropg-generate  the LLM answers their k-item prompts
ropg-evaluate  their predictions and scores
=============  ============================================================================

Training settings: the method's ``ropg-train`` YAML (``ropg.configs``), then the run's own
(task, data, feedback files, candidates, initial model), then ``ropg.overrides``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from ropg.benchmark.artifacts import MODEL, RANKINGS, Handle
from ropg.benchmark.config import BenchmarkConfig, LLMEntry, names_list
from ropg.benchmark.context import Reranker, RunContext, read_rankings
from ropg.benchmark.family import Method, MethodFamily, Stage
from ropg.benchmark.runner import Unit
from ropg.benchmark.stages.common import llm_spec, training_unit
from ropg.benchmark.stages.evaluation import evaluate_stage
from ropg.benchmark.stages.generation import collect, pool_unit
from ropg.benchmark.stages.retrieval import rank_unit
from ropg.errors import UserError

METHODS = ("kd", "rl")
CANDIDATES_FILE = "candidates"
CANDIDATES = "ropg-candidates"  # (llm, task, split): the candidates feedback file
POOL_FILE = "ropg"
TRAIN = "ropg.training.config:RopgTrainConfig"  # what ropg.overrides and ropg.configs set


@dataclass
class RopgSection:
    """ROPG training (the run config's ``ropg:`` section).

    Attributes:
        methods: ``kd`` and/or ``rl``.
        initial: the pool retriever whose ranking gives the candidates.
        model: the encoder to start from (default: the initial retriever's ``model``).
        configs: per method, a ``ropg-train`` YAML (relative to this config's directory).
        overrides: training settings applied on top (``epochs``, ``max_length``, ...).
        use_date: documents with dates, in training and when ranking with the trained model.
        rerank: rank only the initial retriever's first ``rerank`` items with the trained
            model (None: the whole profile, as in the paper); a speed knob for small machines.
        dev_feedback: also collect candidates feedback on the eval split, for the trainer's
            per-epoch dev figures (costs ``candidates`` generations per eval input).
        labels: column headers per method.
    """

    methods: list[str] = field(default_factory=lambda: list(METHODS))
    initial: str = "contriever"
    model: str | None = None
    configs: dict[str, str] = field(default_factory=dict, metadata={"settings_file_of": TRAIN})
    overrides: dict[str, Any] = field(default_factory=dict, metadata={"settings_of": TRAIN})
    use_date: bool = True
    rerank: int | None = None
    dev_feedback: bool = True
    labels: dict[str, str] = field(default_factory=lambda: {"kd": "ROPG-KD", "rl": "ROPG-RL"})

    def __post_init__(self) -> None:
        self.methods = names_list(self.methods, "ropg.methods", METHODS)


def method_name(method: str) -> str:
    """The column/retriever name of a ROPG method (``kd`` -> ``ropg-kd``)."""
    return f"ropg-{method}"


def ranking_name(method: str, llm: str) -> str:
    """The rankings file stem of a ROPG retriever trained on ``llm``'s feedback."""
    return f"{method_name(method)}@{llm}"


class Ropg(MethodFamily):
    """ROPG-KD and ROPG-RL, trained per LLM and task."""

    name = "ropg"
    settings_class = RopgSection
    description = "ROPG-KD / ROPG-RL retrievers trained from LLM feedback"
    settings: RopgSection

    # -- configuration ---------------------------------------------------------------------
    def validate(self, config: BenchmarkConfig) -> None:
        section = self.settings
        if any(self.runs(config, llm) for llm in config.llms):
            if section.initial not in config.retrievers:
                raise UserError(f"config: ropg.initial {section.initial!r} is not in retrievers")
        rerank = section.rerank
        if rerank is not None and not 1 <= rerank <= max(config.k, config.candidates):
            raise UserError(
                "config: ropg.rerank must be between 1 and max(k, candidates) (the stored "
                "ranking depth)"
            )

    def runs(self, config: BenchmarkConfig, llm: LLMEntry) -> bool:
        return self.name in llm.methods and bool(self.settings.methods)

    def learns(self, config: BenchmarkConfig, llm: LLMEntry) -> bool:
        return self.runs(config, llm)

    def needs_rankings(self, config: BenchmarkConfig, split: str) -> set[str]:
        if any(self.runs(config, llm) for llm in config.llms) and split in self.feedback_splits(
            config
        ):
            return {self.settings.initial}
        return set()

    def retrievers(self, config: BenchmarkConfig) -> list[str]:
        return [method_name(m) for m in self.settings.methods]

    def methods(self, config: BenchmarkConfig, llm: LLMEntry) -> list[Method]:
        labels = self.settings.labels
        return [
            Method(method_name(m), labels.get(m, method_name(m)), self.name)
            for m in self.settings.methods
        ]

    def feedback_splits(self, config: BenchmarkConfig) -> list[str]:
        """Splits that get candidates feedback: train, and the eval split for per-epoch dev
        figures when ``ropg.dev_feedback``."""
        splits = [config.train_split]
        if self.settings.dev_feedback and config.eval_split != config.train_split:
            splits.append(config.eval_split)
        return splits

    # -- stages ------------------------------------------------------------------------------
    def stages(self) -> list[Stage]:
        return [
            Stage("ropg-feedback", self.plan_feedback, self.name,
                  description="LLM feedback per ROPG candidate (one-item prompts)"),
            Stage("ropg-train", self.plan_train, self.name, description="train ROPG-KD / ROPG-RL"),
            Stage("ropg-rank", self.plan_rank, self.name,
                  description="rank with the trained retrievers"),
            Stage("ropg-generate", self.plan_generate, self.name,
                  description="LLM outputs per ROPG retriever (k items)"),
            evaluate_stage("ropg-evaluate", self.name, "ROPG predictions and scores"),
        ]  # fmt: skip

    def _candidate_planner(self, ctx: RunContext, initial: Handle, builder: Any) -> Any:
        from ropg.feedback import CandidatePlanner

        return CandidatePlanner(
            read_rankings(initial.path),
            self.settings.initial,
            builder,
            candidates=ctx.config.candidates,
            use_date=self.settings.use_date,
        )

    def plan_feedback(self, ctx: RunContext) -> list[Unit]:
        """Per LLM, task and split: each of the initial ranking's first ``candidates`` items
        alone in a prompt, generated and scored (the ROPG training signal)."""
        config, section = ctx.config, self.settings
        units = []
        for llm, task in self.llm_tasks(config):
            for split in self.feedback_splits(config):
                initial = ctx.artifacts.get(RANKINGS, (task, split, section.initial))
                spec = {
                    "llm": llm_spec(llm),
                    "candidates": config.candidates,
                    "initial": section.initial,
                    "use_date": section.use_date,
                }
                out = ctx.feedback_path(llm.name, task, split, CANDIDATES_FILE)
                make = partial(self._candidate_planner, ctx, initial)
                run = partial(collect, ctx, llm, task, split, out, make)
                unit = Unit("ropg-feedback", f"{llm.name}/{task}/{split}", spec, run,
                            (initial.dep,))  # fmt: skip
                ctx.artifacts.publish(CANDIDATES, (llm.name, task, split), Handle.of(unit, out))
                units.append(unit)
        return units

    def initial_model(self, ctx: RunContext) -> str:
        """The encoder ROPG starts from: ``ropg.model`` or the initial retriever's ``model``."""
        section = self.settings
        model = section.model or ctx.config.retrievers[section.initial].options.get("model")
        if not model:
            raise UserError(
                f"ropg: set ropg.model (the initial retriever {section.initial!r} has no model "
                "option)"
            )
        return str(model)

    def train_config(self, ctx: RunContext, llm: str, task: str, method: str) -> Any:
        """The resolved :class:`~ropg.training.RopgTrainConfig` of one ROPG model."""
        from ropg.training.config import RopgTrainConfig

        config, section = ctx.config, self.settings
        yaml_path = section.configs.get(method)
        feedback = {
            split: str(ctx.feedback_path(llm, task, split, CANDIDATES_FILE))
            for split in self.feedback_splits(config)
        }
        values: dict[str, Any] = {
            "method": method,
            "task": task,
            "data": ctx.data_source,
            "layout": config.layout,
            "train_split": config.train_split,
            "dev_split": config.eval_split,
            "train_feedback": [feedback[config.train_split]],
            "dev_feedback": [
                path for split, path in feedback.items() if split != config.train_split
            ],
            "limit_train": config.limit,
            "limit_dev": config.limit,
            "candidates": config.candidates,
            "use_date": section.use_date,
            "model": ctx.resolve_model(self.initial_model(ctx)),
            "seed": config.seed,
            "output_dir": str(ctx.model_dir(llm, task, method_name(method))),
        }
        overrides = dict(section.overrides)
        if "model" in overrides:
            overrides["model"] = ctx.resolve_model(overrides["model"])
        values.update(overrides)
        return RopgTrainConfig.load(config.path(yaml_path) if yaml_path else None, values)

    def plan_train(self, ctx: RunContext) -> list[Unit]:
        """Per LLM, task and ROPG method: train a dense retriever from the candidates feedback."""
        config = ctx.config
        units = []
        for llm, task in self.llm_tasks(config):
            deps = tuple(
                ctx.artifacts.get(CANDIDATES, (llm.name, task, split)).dep
                for split in self.feedback_splits(config)
            )
            for method in self.settings.methods:
                name = method_name(method)
                key = f"{llm.name}/{task}/{name}"
                output = ctx.model_dir(llm.name, task, name)
                settings = self.train_config(ctx, llm.name, task, method)
                unit = training_unit("ropg-train", key, settings, _train, output, deps)
                ctx.artifacts.publish(MODEL, (llm.name, task, name), Handle.of(unit, output))
                units.append(unit)
        return units

    def _retriever(self, ctx: RunContext, model_dir: Path, initial: Handle | None) -> Any:
        """The trained encoder; with ``ropg.rerank``, over the initial ranking's first items."""
        retriever = ctx.dense_retriever(model_dir)
        if initial is None:
            return retriever
        return Reranker(retriever, read_rankings(initial.path), self.settings.rerank)

    def plan_rank(self, ctx: RunContext) -> list[Unit]:
        """Per LLM, task, split and ROPG method: rank with the trained encoder (on the train
        split only what another family reads, e.g. RSPG's pool)."""
        config, section = ctx.config, self.settings
        units = []
        for llm, task in self.llm_tasks(config):
            for split in ctx.splits_for(llm):
                needed = ctx.needed_outputs(llm, split)
                for method in section.methods:
                    name = method_name(method)
                    if split != config.eval_split and name not in needed:
                        continue
                    model = ctx.artifacts.get(MODEL, (llm.name, task, name))
                    deps: tuple[tuple[str, str], ...] = (model.dep,)
                    initial = None
                    if section.rerank is not None:
                        initial = ctx.artifacts.get(RANKINGS, (task, split, section.initial))
                        deps += (initial.dep,)
                    make = partial(self._retriever, ctx, model.path, initial)
                    spec = {"rerank": section.rerank}
                    units.append(
                        rank_unit(
                            ctx,
                            "ropg-rank",
                            task,
                            split,
                            ranking_name(method, llm.name),
                            make,
                            use_date=section.use_date,
                            top_k=config.k,
                            spec=spec,
                            deps=deps,
                        )  # fmt: skip
                    )
        return units

    def plan_generate(self, ctx: RunContext) -> list[Unit]:
        """Per LLM, task and split: the ROPG retrievers' k-item prompts, generated and scored."""
        config = ctx.config
        units = []
        for llm, task in self.llm_tasks(config):
            for split in ctx.splits_for(llm):
                needed = ctx.needed_outputs(llm, split)
                rankings = {
                    method_name(m): ctx.artifacts.get(
                        RANKINGS, (task, split, ranking_name(m, llm.name))
                    )
                    for m in self.settings.methods
                    if split == config.eval_split or method_name(m) in needed
                }
                if rankings:
                    units.append(
                        pool_unit(ctx, "ropg-generate", llm, task, split, rankings, POOL_FILE)
                    )
        return units


def _train(config: Any) -> Any:
    from ropg.training import train

    return train(config)
