"""``rspg``: a selector that picks a retriever per input (RSPG-Pre, RSPG-Post).

============  ==============================================================================
stage         what it does
============  ==============================================================================
rspg-train    the pool members' records merged per LLM and task; a selector per mode
rspg-select   the retriever chosen per eval input; QPP baselines, oracle bounds, winning rates
rspg-evaluate RSPG predictions and scores (the chosen retriever's output)
============  ==============================================================================

Its report files are ``selectors.md`` (success rates, oracle bounds, winning-rate charts)
and, with ``rspg.table5``, ``table5.md``: the paper's Table 5 from the same run (RSPG-Pre and
RSPG-Post trained once with and once without the ROPG retrievers in their pool, with every
metric, and the oracle lower and upper bounds with every metric).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from ropg.benchmark.artifacts import METHOD_OUTPUTS, MODEL, RETRIEVER_OUTPUTS, Handle
from ropg.benchmark.config import BenchmarkConfig, LLMEntry, names_list
from ropg.benchmark.context import RunContext
from ropg.benchmark.family import Method, MethodFamily, Stage
from ropg.benchmark.runner import Unit
from ropg.benchmark.stages.common import training_unit
from ropg.benchmark.stages.evaluation import evaluate_stage
from ropg.errors import DataError, UserError
from ropg.feedback.jsonl import HEADER_KEY, dumps_record
from ropg.utils.io import atomic_open, atomic_write_json

logger = logging.getLogger(__name__)

MODES = ("pre", "post")
ANALYSIS = "analysis"
POOL_FILE = "rspg"
MERGED_POOL = "rspg-merged-pool"  # (llm, task): the pool members' records in one file
SELECTOR = "ropg.selection.config:SelectorConfig"  # what rspg.overrides and rspg.config set


@dataclass
class RspgSection:
    """RSPG selector training and selection (the run config's ``rspg:`` section).

    Attributes:
        modes: ``pre`` and/or ``post``.
        pool: the retrievers the selector chooses from (pool and ROPG names, e.g. ``ropg-kd``).
        config: a ``rspg-train`` YAML (relative to this config's directory).
        overrides: selector settings applied on top (``model``, ``epochs``, ...).
        qpp: QPP baselines shown in the success-rate table.
        labels: column headers per mode.
        table5: also train the selectors on ``ablation_pool`` and write ``table5.md`` (the
            paper's Table 5: w/o and w/ ROPG, oracle bounds, every metric).
        ablation_pool: the pool "without ROPG" (default: ``pool`` without the retrievers
            that other families than ``baselines`` produce).
    """

    modes: list[str] = field(default_factory=lambda: list(MODES))
    pool: list[str] = field(default_factory=list)
    config: str | None = field(default=None, metadata={"settings_file_of": SELECTOR})
    overrides: dict[str, Any] = field(default_factory=dict, metadata={"settings_of": SELECTOR})
    qpp: list[str] = field(default_factory=lambda: ["wig", "nqc", "sigma_max", "sigma_x"])
    labels: dict[str, str] = field(default_factory=lambda: {"pre": "RSPG-Pre", "post": "RSPG-Post"})
    table5: bool = False
    ablation_pool: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.modes = names_list(self.modes, "rspg.modes", MODES)
        self.pool = names_list(self.pool, "rspg.pool")
        self.qpp = names_list(self.qpp, "rspg.qpp")
        self.ablation_pool = names_list(self.ablation_pool, "rspg.ablation_pool")


@dataclass(frozen=True)
class Variant:
    """One set of selectors: its pool, and the suffix of its names and files."""

    pool: tuple[str, ...]
    suffix: str = ""

    @property
    def file(self) -> str:
        return POOL_FILE + self.suffix


ABLATION = "-noropg"
ORACLES = {"oracle-lower": False, "oracle-upper": True}  # name -> the best retriever?


def mode_name(mode: str, suffix: str = "") -> str:
    """The column name of an RSPG mode (``post`` -> ``rspg-post``)."""
    return f"rspg-{mode}{suffix}"


class Rspg(MethodFamily):
    """RSPG-Pre and RSPG-Post selectors over ``rspg.pool``."""

    name = "rspg"
    settings_class = RspgSection
    description = "RSPG-Pre / RSPG-Post retriever selectors"
    settings: RspgSection

    # -- configuration ---------------------------------------------------------------------
    def validate(self, config: BenchmarkConfig) -> None:
        known = {
            name
            for family in config.family_list()
            if family is not self
            for name in family.retrievers(config)
        }
        unknown = [name for name in self.settings.pool if name not in known]
        if unknown:
            raise UserError(f"config: rspg.pool names unknown retrievers {unknown}")
        outside = [name for name in self.settings.ablation_pool if name not in self.settings.pool]
        if outside:
            raise UserError(f"config: rspg.ablation_pool {outside} are not in rspg.pool")
        if self.settings.table5 and len(self.variants(config)[-1].pool) < 2:
            raise UserError("config: rspg.table5 needs an ablation pool of 2+ retrievers")

    def variants(self, config: BenchmarkConfig) -> list[Variant]:
        """The selectors' pools: ``pool``, and with ``table5`` the ablation pool."""
        section = self.settings
        variants = [Variant(tuple(section.pool))]
        if section.table5:
            ablation = section.ablation_pool or [
                name for name in section.pool if name in config.family("baselines").retrievers(
                    config)
            ]  # fmt: skip
            variants.append(Variant(tuple(ablation), ABLATION))
        return variants

    def runs(self, config: BenchmarkConfig, llm: LLMEntry) -> bool:
        section = self.settings
        return self.name in llm.methods and bool(section.modes and section.pool)

    def learns(self, config: BenchmarkConfig, llm: LLMEntry) -> bool:
        return self.runs(config, llm)

    def splits(self, config: BenchmarkConfig) -> list[str]:
        return list(dict.fromkeys([config.train_split, config.eval_split]))

    def needs_outputs(self, config: BenchmarkConfig, llm: LLMEntry, split: str) -> set[str]:
        if self.runs(config, llm) and split in self.splits(config):
            return set(self.settings.pool)
        return set()

    def methods(self, config: BenchmarkConfig, llm: LLMEntry) -> list[Method]:
        labels = self.settings.labels
        methods = [
            Method(mode_name(m), labels.get(m, mode_name(m)), self.name)
            for m in self.settings.modes
        ]
        if self.settings.table5:
            methods += [
                Method(mode_name(m, ABLATION), f"{labels.get(m, mode_name(m))} w/o ROPG",
                       self.name, baseline=True, table="table5")
                for m in self.settings.modes
            ]  # fmt: skip
            methods += [
                Method(name, f"Oracle {name.split('-')[1]}", self.name, table="table5-oracle")
                for name in ORACLES
            ]
        return methods

    # -- stages ------------------------------------------------------------------------------
    def stages(self) -> list[Stage]:
        return [
            Stage("rspg-train", self.plan_train, self.name,
                  description="train RSPG-Pre / RSPG-Post"),
            Stage("rspg-select", self.plan_select, self.name,
                  description="select a retriever per input; QPP, oracle, winning rates"),
            evaluate_stage("rspg-evaluate", self.name, "RSPG predictions and scores"),
        ]  # fmt: skip

    def pool_path(
        self, ctx: RunContext, llm: str, task: str, split: str, variant: Variant | None = None
    ) -> Any:
        return ctx.feedback_path(llm, task, split, (variant or Variant(())).file)

    def _merge_pool(
        self,
        ctx: RunContext,
        llm: LLMEntry,
        task: str,
        variant: Variant,
        sources: dict[str, dict[str, Handle]],
    ) -> dict[str, Any]:
        """Write the selector's pool files: the pool members' records, merged."""
        from ropg.feedback import feedback_by_id

        names = list(variant.pool)
        counts = {}
        for split, handles in sources.items():
            loaded = ctx.split(task, split)
            files = {name: handle.path for name, handle in handles.items()}
            loaded_files = {path: feedback_by_id(path, loaded.ids) for path in set(files.values())}
            first_header = loaded_files[files[names[0]]][0]
            header = {
                **{key: value for key, value in first_header.items() if key != "retrievers"},
                "retrievers": names,
            }
            with atomic_open(self.pool_path(ctx, llm.name, task, split, variant)) as stream:
                stream.write(dumps_record({HEADER_KEY: header}) + "\n")
                for example_id in loaded.ids:
                    record = dict(loaded_files[files[names[0]]][1][example_id])
                    retrievers = {}
                    for name in names:
                        entry = loaded_files[files[name]][1][example_id]["retrievers"].get(name)
                        if entry is None:
                            raise DataError(
                                files[name], f"no output of {name!r}", record_id=example_id
                            )
                        retrievers[name] = entry
                    record["retrievers"] = retrievers
                    stream.write(dumps_record(record) + "\n")
            counts[split] = len(loaded)
        return {"examples": counts, "retrievers": names}

    def selector_config(
        self, ctx: RunContext, llm: str, task: str, mode: str, variant: Variant
    ) -> Any:
        """The resolved ``SelectorConfig`` of one RSPG selector."""
        from ropg.selection import SelectorConfig

        config, section = ctx.config, self.settings
        train = self.pool_path(ctx, llm, task, config.train_split, variant)
        values: dict[str, Any] = {
            "mode": mode,
            "task": task,
            "train_feedback": [str(train)],
            "output_dir": str(ctx.model_dir(llm, task, mode_name(mode, variant.suffix))),
            "retrievers": list(variant.pool),
            "seed": config.seed,
            "report": False,  # the run's own analysis is the rspg-select stage
        }
        values.update(section.overrides)
        if "model" in values:
            values["model"] = ctx.resolve_model(values["model"])
        path = config.path(section.config) if section.config else None
        return SelectorConfig.load(path, values)

    def plan_train(self, ctx: RunContext) -> list[Unit]:
        """Per LLM, task and variant: the merged pool files; per mode: a trained selector."""
        config = ctx.config
        units = []
        for llm, task in self.llm_tasks(config):
            for variant in self.variants(config):
                units += self._train_units(ctx, llm, task, variant)
        return units

    def _train_units(
        self, ctx: RunContext, llm: LLMEntry, task: str, variant: Variant
    ) -> list[Unit]:
        sources = {
            split: {
                name: ctx.artifacts.get(
                    RETRIEVER_OUTPUTS, (llm.name, task, split, name), "rspg.pool"
                )
                for name in variant.pool
            }
            for split in self.splits(ctx.config)
        }
        deps = tuple(dict.fromkeys(h.dep for hs in sources.values() for h in hs.values()))
        spec = {"pool": list(variant.pool)}
        run = partial(self._merge_pool, ctx, llm, task, variant, sources)
        key = f"{llm.name}/{task}/pool{variant.suffix}"
        pool = Unit("rspg-train", key, spec, run, deps)
        ctx.artifacts.publish(MERGED_POOL, (llm.name, task, variant.suffix), Handle.of(pool))
        units = [pool]
        for mode in self.settings.modes:
            name = mode_name(mode, variant.suffix)
            output = ctx.model_dir(llm.name, task, name)
            settings = self.selector_config(ctx, llm.name, task, mode, variant)
            unit = training_unit(
                "rspg-train", f"{llm.name}/{task}/{name}", settings, _train, output, (pool.ref,)
            )
            ctx.artifacts.publish(MODEL, (llm.name, task, name), Handle.of(unit, output))
            units.append(unit)
        return units

    def pool_records(
        self, ctx: RunContext, llm: str, task: str, variant: Variant | None = None
    ) -> tuple[list[str], list[Any]]:
        """``(ids, records)`` of the merged eval-split pool file, in split order."""
        from ropg.selection import load_pool_records

        split = ctx.split(task, ctx.config.eval_split)
        path = self.pool_path(ctx, llm, task, split.split, variant)
        records = load_pool_records(str(path), task=task)
        ids = [record.id for record in records]
        if ids != split.ids:
            raise DataError(path, f"holds {len(ids)} records, not the {len(split)} eval inputs")
        return ids, records

    def _select(
        self, ctx: RunContext, llm: str, task: str, mode: str, variant: Variant
    ) -> dict[str, Any]:
        from ropg.selection import load_selector, success_rate

        name = mode_name(mode, variant.suffix)
        ids, records = self.pool_records(ctx, llm, task, variant)
        selector = load_selector(str(ctx.model_dir(llm, task, name)))
        names = [str(chosen) for chosen in selector.select(records)]
        rate = float(success_rate(records, names))
        atomic_write_json(
            ctx.selection_path(llm, task, name),
            {"selected": dict(zip(ids, names)), "success_rate": rate},
        )
        return {"success_rate": rate}

    def _selected_outputs(
        self, ctx: RunContext, llm: str, task: str, name: str, variant: Variant
    ) -> list[str]:
        """The chosen retriever's output for each eval input, in split order."""
        from ropg.selection.analysis import selected_outputs

        path = ctx.selection_path(llm, task, name)
        try:
            chosen = json.loads(path.read_text(encoding="utf-8"))["selected"]
        except (OSError, ValueError, KeyError) as error:
            raise DataError(path, f"unreadable selection ({error})") from None
        ids, records = self.pool_records(ctx, llm, task, variant)
        names = []
        for example_id in ids:
            if example_id not in chosen:
                raise DataError(path, "no selected retriever", record_id=example_id)
            names.append(chosen[example_id])
        return selected_outputs(records, names)

    def _oracle_outputs(self, ctx: RunContext, llm: str, task: str, best: bool) -> list[str]:
        """The output of each eval input's best (or worst) retriever of the pool."""
        from ropg.selection.analysis import oracle_names, selected_outputs

        _, records = self.pool_records(ctx, llm, task)
        return selected_outputs(records, oracle_names(records, best))

    def _analysis(self, ctx: RunContext, llm: str, task: str) -> dict[str, Any]:
        from ropg.selection import (
            QPP_SELECTORS,
            oracle_bounds,
            plot_winning_rates,
            success_rate,
            winning_rates,
        )

        ids, records = self.pool_records(ctx, llm, task)
        success = {}
        for name in self.settings.qpp:
            if name not in QPP_SELECTORS:
                raise UserError(
                    f"rspg.qpp: unknown selector {name!r}; known: {sorted(QPP_SELECTORS)}"
                )
            success[name] = float(success_rate(records, QPP_SELECTORS[name](records)))
        rates = winning_rates(records)
        chart = ctx.run_dir / "winning_rates" / llm / f"{task}.png"
        chart.parent.mkdir(parents=True, exist_ok=True)
        plot_winning_rates(rates, str(chart), title=f"{task}, {llm}: winning rate per retriever")
        result = {
            "qpp_success_rates": success,
            "oracle": {k: float(v) for k, v in dict(oracle_bounds(records)).items()},
            "winning_rates": {str(k): float(v) for k, v in dict(rates).items()},
            "chart": str(chart.relative_to(ctx.run_dir)),
        }
        atomic_write_json(ctx.selection_path(llm, task, ANALYSIS), result)
        return result

    def plan_select(self, ctx: RunContext) -> list[Unit]:
        """Per LLM, task, variant and mode: the selected retrievers (published as the mode's
        outputs); per LLM and task: the analysis and the oracle bounds' outputs."""
        config = ctx.config
        units = []
        for llm, task in self.llm_tasks(config):
            for variant in self.variants(config):
                pool = ctx.artifacts.get(MERGED_POOL, (llm.name, task, variant.suffix))
                for mode in self.settings.modes:
                    name = mode_name(mode, variant.suffix)
                    model = ctx.artifacts.get(MODEL, (llm.name, task, name))
                    run = partial(self._select, ctx, llm.name, task, mode, variant)
                    unit = Unit(
                        "rspg-select", f"{llm.name}/{task}/{name}", {}, run,
                        (pool.dep, model.dep),
                    )  # fmt: skip
                    read = partial(self._selected_outputs, ctx, llm.name, task, name, variant)
                    ctx.artifacts.publish(
                        METHOD_OUTPUTS, (llm.name, task, name), Handle.of(unit, read=read)
                    )
                    units.append(unit)
            pool = ctx.artifacts.get(MERGED_POOL, (llm.name, task, ""))
            spec = {"qpp": self.settings.qpp}
            run = partial(self._analysis, ctx, llm.name, task)
            analysis = Unit("rspg-select", f"{llm.name}/{task}/{ANALYSIS}", spec, run, (pool.dep,))
            units.append(analysis)
            if self.settings.table5:
                for name, best in ORACLES.items():
                    read = partial(self._oracle_outputs, ctx, llm.name, task, best)
                    ctx.artifacts.publish(
                        METHOD_OUTPUTS, (llm.name, task, name), Handle.of(analysis, read=read)
                    )
        return units

    # -- report ------------------------------------------------------------------------------
    def write_report(self, ctx: RunContext) -> list[str]:
        from ropg.benchmark.families.rspg_report import write_selectors, write_table5

        files = [write_selectors(ctx, self)]
        table5 = write_table5(ctx, self)
        return files + ([table5] if table5 else [])

    def report_sections(self, ctx: RunContext) -> list[Any]:
        from ropg.benchmark.families.rspg_report import table5_section

        section = table5_section(ctx, self)
        return [section] if section is not None else []


def _train(config: Any) -> Any:
    from ropg.selection import train_selector

    return train_selector(config)
