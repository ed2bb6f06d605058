"""RSPG stages: ``rspg-train`` (a selector per LLM, task and mode) and ``rspg-select`` (the
retriever each eval input gets, QPP baselines, oracle bounds and winning rates).
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from ropg.benchmark.config import LLMEntry
from ropg.benchmark.context import RunContext
from ropg.benchmark.methods import POOL_FILES, pool_group, rspg_name, runs
from ropg.benchmark.runner import Unit
from ropg.benchmark.stages.common import training_unit
from ropg.errors import DataError, UserError
from ropg.feedback.jsonl import HEADER_KEY, dumps_record
from ropg.utils.io import atomic_open, atomic_write_json

logger = logging.getLogger(__name__)

ANALYSIS = "analysis"


def rspg_pool_path(ctx: RunContext, llm: str, task: str, split: str) -> Any:
    return ctx.feedback_path(llm, task, split, "rspg")


def rspg_splits(ctx: RunContext) -> list[str]:
    config = ctx.config
    return list(dict.fromkeys([config.train_split, config.eval_split]))


def _merge_pool(ctx: RunContext, llm: LLMEntry, task: str) -> dict[str, Any]:
    """Write the selector's pool files: the configured retrievers' records, merged."""
    from ropg.feedback import feedback_by_id

    config = ctx.config
    names = config.rspg.pool
    counts = {}
    for split in rspg_splits(ctx):
        loaded = ctx.split(task, split)
        headers, by_group = {}, {}
        for group in sorted({pool_group(config, name) for name in names}):
            path = ctx.feedback_path(llm.name, task, split, group)
            headers[group], by_group[group] = feedback_by_id(path, loaded.ids)
        first = headers[pool_group(config, names[0])]
        header = {
            **{key: value for key, value in first.items() if key != "retrievers"},
            "retrievers": names,
        }
        with atomic_open(rspg_pool_path(ctx, llm.name, task, split)) as stream:
            stream.write(dumps_record({HEADER_KEY: header}) + "\n")
            for example_id in loaded.ids:
                record = dict(by_group[pool_group(config, names[0])][example_id])
                retrievers = {}
                for name in names:
                    group = pool_group(config, name)
                    entry = by_group[group][example_id]["retrievers"].get(name)
                    if entry is None:
                        raise DataError(
                            ctx.feedback_path(llm.name, task, split, group),
                            f"no output of {name!r}",
                            record_id=example_id,
                        )
                    retrievers[name] = entry
                record["retrievers"] = retrievers
                stream.write(dumps_record(record) + "\n")
        counts[split] = len(loaded)
    return {"examples": counts, "retrievers": names}


def selector_config(ctx: RunContext, llm: str, task: str, mode: str) -> Any:
    """The resolved ``SelectorConfig`` of one RSPG selector."""
    from ropg.selection import SelectorConfig

    config = ctx.config
    values: dict[str, Any] = {
        "mode": mode,
        "task": task,
        "train_feedback": [str(rspg_pool_path(ctx, llm, task, config.train_split))],
        "output_dir": str(ctx.model_dir(llm, task, rspg_name(mode))),
        "retrievers": list(config.rspg.pool),
        "seed": config.seed,
        "report": False,  # the run's own analysis is the rspg-select stage
    }
    values.update(config.rspg.overrides)
    if "model" in values:
        values["model"] = ctx.resolve_model(values["model"])
    path = config.path(config.rspg.config) if config.rspg.config else None
    return SelectorConfig.load(path, values)


def _train(config: Any) -> Any:
    from ropg.selection import train_selector

    return train_selector(config)


def plan_rspg_train(ctx: RunContext) -> list[Unit]:
    """Per LLM and task: the merged pool files; per mode: a trained selector."""
    config = ctx.config
    units = []
    for llm in config.llms:
        if not runs(config, llm, "rspg"):
            continue
        groups = {pool_group(config, name) for name in config.rspg.pool}
        if POOL_FILES["ropg"] in groups and "ropg" not in llm.methods:
            raise UserError(f"llm {llm.name}: rspg.pool has ROPG retrievers but ropg is not run")
        for task in config.tasks:
            producers = {"base": "generate", "ropg": "ropg-generate"}
            deps = tuple(
                (producers[group], f"{llm.name}/{task}/{split}")
                for group in sorted(groups)
                for split in rspg_splits(ctx)
            )
            pool_key = f"{llm.name}/{task}/pool"
            spec = {"pool": config.rspg.pool}
            units.append(
                Unit("rspg-train", pool_key, spec, partial(_merge_pool, ctx, llm, task), deps)
            )
            for mode in config.rspg.modes:
                key = f"{llm.name}/{task}/{rspg_name(mode)}"
                output = ctx.model_dir(llm.name, task, rspg_name(mode))
                settings = selector_config(ctx, llm.name, task, mode)
                deps_mode = (("rspg-train", pool_key),)
                units.append(training_unit("rspg-train", key, settings, _train, output, deps_mode))
    return units


def pool_records(ctx: RunContext, llm: str, task: str) -> tuple[list[str], list[Any]]:
    """``(ids, records)`` of the merged eval-split pool file, in split order."""
    from ropg.selection import load_pool_records

    split = ctx.split(task, ctx.config.eval_split)
    path = rspg_pool_path(ctx, llm, task, split.split)
    records = load_pool_records(str(path), task=task)
    ids = [record.id for record in records]
    if ids != split.ids:
        raise DataError(path, f"holds {len(ids)} records, not the {len(split)} eval inputs")
    return ids, records


def _select(ctx: RunContext, llm: str, task: str, mode: str) -> dict[str, Any]:
    from ropg.selection import load_selector, success_rate

    ids, records = pool_records(ctx, llm, task)
    selector = load_selector(str(ctx.model_dir(llm, task, rspg_name(mode))))
    names = [str(name) for name in selector.select(records)]
    rate = float(success_rate(records, names))
    atomic_write_json(
        ctx.selection_path(llm, task, rspg_name(mode)),
        {"selected": dict(zip(ids, names)), "success_rate": rate},
    )
    return {"success_rate": rate}


def _analysis(ctx: RunContext, llm: str, task: str) -> dict[str, Any]:
    from ropg.selection import (
        QPP_SELECTORS,
        oracle_bounds,
        plot_winning_rates,
        success_rate,
        winning_rates,
    )

    ids, records = pool_records(ctx, llm, task)
    success = {}
    for name in ctx.config.rspg.qpp:
        if name not in QPP_SELECTORS:
            raise UserError(f"rspg.qpp: unknown selector {name!r}; known: {sorted(QPP_SELECTORS)}")
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


def plan_rspg_select(ctx: RunContext) -> list[Unit]:
    """Per LLM, task and mode: the selected retrievers; per LLM and task: the analysis."""
    config = ctx.config
    units = []
    for llm in config.llms:
        if not runs(config, llm, "rspg"):
            continue
        for task in config.tasks:
            pool = (("rspg-train", f"{llm.name}/{task}/pool"),)
            for mode in config.rspg.modes:
                name = rspg_name(mode)
                deps = (*pool, ("rspg-train", f"{llm.name}/{task}/{name}"))
                run = partial(_select, ctx, llm.name, task, mode)
                units.append(Unit("rspg-select", f"{llm.name}/{task}/{name}", {}, run, deps))
            spec = {"qpp": config.rspg.qpp}
            run = partial(_analysis, ctx, llm.name, task)
            units.append(Unit("rspg-select", f"{llm.name}/{task}/{ANALYSIS}", spec, run, pool))
    return units
