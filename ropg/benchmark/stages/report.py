"""``report``: ``metrics.json``, ``table3.md``, ``selectors.md`` and ``fingerprints.json``.

Reads the scores, selections and feedback headers the other stages wrote; methods that have
not run show as ``–``. It runs every time (it is cheap and deterministic), so the tables of a
finished run are byte-identical however often, or with however many interruptions, it ran.
"""

from __future__ import annotations

import json
import logging
from functools import partial
from pathlib import Path
from typing import Any

from ropg.benchmark.config import LLMEntry
from ropg.benchmark.context import RunContext
from ropg.benchmark.methods import Method, methods_for, rspg_name
from ropg.benchmark.runner import Unit
from ropg.benchmark.stages.selection import ANALYSIS
from ropg.benchmark.tables import (
    Cell,
    ResultTable,
    Row,
    render_grid,
    render_results,
    significance_against,
)
from ropg.feedback.jsonl import HEADER_KEY
from ropg.utils.io import atomic_open, atomic_write_json

logger = logging.getLogger(__name__)

TABLE_FILE = "table3.md"
SELECTORS_FILE = "selectors.md"
METRICS_FILE = "metrics.json"
FINGERPRINTS_FILE = "fingerprints.json"
QPP_LABELS = {"wig": "WIG", "nqc": "NQC", "sigma_max": "σmax", "sigma_x": "σx%", "random": "Random"}
SMOKE_NOTE = (
    "**Smoke run**: a tiny random model built on the fly; these numbers show that every stage "
    "works, not how good any method is."
)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def _scores(ctx: RunContext, llm: LLMEntry, task: str, methods: list[Method]) -> dict[str, Any]:
    found = {}
    for method in methods:
        scores = _read_json(ctx.scores_path(llm.name, task, method.name))
        if scores is not None:
            found[method.name] = scores
    return found


def results_table(
    ctx: RunContext, llm: LLMEntry
) -> tuple[ResultTable, dict[str, Any], dict[str, Any]]:
    """The Table-3 layout for one LLM, the p-values behind its markers, and the official
    metrics per task and method (each scores file is read once)."""
    from ropg.lamp import get_task

    config = ctx.config
    methods = methods_for(config, llm)
    baselines = [m.name for m in methods if m.is_baseline]
    rows, pvalues, metrics = [], {}, {}
    for task in config.tasks:
        scores = _scores(ctx, llm, task, methods)
        metrics[task] = {name: entry["metrics"] for name, entry in scores.items()}
        for metric in get_task(task).metric_keys:
            row = Row(task, metric)
            for method in methods:
                if method.name not in scores:
                    continue
                entry = scores[method.name]
                values = entry["per_example"].get(metric)
                beaten = []
                for baseline in baselines:
                    other = scores.get(baseline, {}).get("per_example", {}).get(metric)
                    if baseline == method.name or values is None or other is None:
                        continue
                    better, p = significance_against(metric, values, other, config.alpha)
                    pvalues.setdefault(task, {}).setdefault(metric, {}).setdefault(method.name, {})[
                        baseline
                    ] = p
                    if better:
                        beaten.append(baseline)
                row.cells[method.name] = Cell(float(entry["metrics"][metric]), tuple(beaten))
            rows.append(row)
    spec = llm.spec if llm.build is None else llm.spec.replace("{model}", f"<{llm.build}>")
    title = f"{llm.label} (`{spec}`), {config.eval_split} split"
    table = ResultTable(
        title=title + (" — smoke run" if llm.smoke else ""),
        columns=[(m.name, m.label) for m in methods],
        baselines=baselines,
        rows=rows,
        alpha=config.alpha,
        note=SMOKE_NOTE if llm.smoke else "",
    )
    return table, pvalues, metrics


def selector_tables(ctx: RunContext, llm: LLMEntry) -> str:
    """Success rates (RSPG and QPP), oracle bounds and winning-rate charts of one LLM."""
    config = ctx.config
    if "rspg" not in llm.methods:
        return ""
    success_rows, oracle_rows, charts = [], [], []
    oracle_keys: list[str] = []
    for task in config.tasks:
        rates: dict[str, float | None] = {}
        for mode in config.rspg.modes:
            selection = _read_json(ctx.selection_path(llm.name, task, rspg_name(mode)))
            rates[rspg_name(mode)] = None if selection is None else selection["success_rate"]
        analysis = _read_json(ctx.selection_path(llm.name, task, ANALYSIS)) or {}
        rates.update(analysis.get("qpp_success_rates", {}))
        success_rows.append((task, rates))
        oracle = analysis.get("oracle", {})
        oracle_keys += [key for key in oracle if key not in oracle_keys]
        oracle_rows.append((task, oracle))
        if analysis.get("chart"):
            charts.append(f"- {task}: [{analysis['chart']}]({analysis['chart']})")
    columns = [(rspg_name(m), config.rspg.labels.get(m, rspg_name(m))) for m in config.rspg.modes]
    columns += [(name, QPP_LABELS.get(name, name)) for name in config.rspg.qpp]
    parts = [
        f"## {llm.label}" + (" (smoke run)" if llm.smoke else ""),
        "",
        render_grid(
            "Selector success rate (share of inputs where the chosen retriever is among the best)",
            columns,
            success_rows,
        ),
        render_grid(
            "Oracle bounds (best / worst retriever per input)",
            [(key, key) for key in oracle_keys],
            oracle_rows,
            bold_max=False,
        ),
    ]
    if charts:
        parts += ["### Winning rates", "", *charts, ""]
    return "\n".join(parts)


def fingerprints(ctx: RunContext) -> dict[str, Any]:
    """Data, model and code fingerprints of the run."""
    from ropg.benchmark.fingerprints import code_fingerprint, environment
    from ropg.generation.fingerprint import model_identity

    config = ctx.config
    data = {
        f"{task}/{split}": ctx.data_fingerprint(task, split)
        for task in config.tasks
        for split in ctx.splits_for()
    }
    llms = {}
    for llm in config.llms:
        identity = None
        for group in ("base", "ropg", "candidates"):  # any feedback file of this LLM
            path = ctx.feedback_path(llm.name, config.tasks[0], config.eval_split, group)
            if path.exists():
                with path.open(encoding="utf-8") as stream:
                    identity = json.loads(stream.readline()).get(HEADER_KEY, {}).get("llm")
                break
        llms[llm.name] = {"spec": llm.spec, "identity": identity}
    retrievers = {}
    for name, entry in config.retrievers.items():
        model = entry.options.get("model")
        info: dict[str, Any] = {"retriever": entry.retriever, "options": entry.options}
        if model is not None:
            resolved = ctx.resolve_model(model)
            info["model_identity"] = (
                model_identity(resolved) if Path(resolved).is_dir() else {"model": resolved}
            )
        retrievers[name] = info
    trained = {}
    models_root = ctx.run_dir / "models"
    for llm in config.llms:
        for task in config.tasks:
            directory = models_root / llm.name / task
            if directory.is_dir():
                for model in sorted(p for p in directory.iterdir() if p.is_dir()):
                    trained[f"{llm.name}/{task}/{model.name}"] = model_identity(str(model))
    return {
        "data": data,
        "llms": llms,
        "retrievers": retrievers,
        "trained_models": trained,
        "code": code_fingerprint(),
        "environment": environment(),
    }


def write_report(ctx: RunContext) -> dict[str, Any]:
    """Write every report file; returns where they are."""
    config = ctx.config
    run_dir = ctx.run_dir
    tables, selector_parts, metrics = [], [], {}
    significance = {}
    for llm in config.llms:
        table, pvalues, metrics[llm.name] = results_table(ctx, llm)
        tables.append(render_results(table))
        significance[llm.name] = pvalues
        selector_parts.append(selector_tables(ctx, llm))
    header = f"# {config.name}: results on LaMP ({config.eval_split} split)\n\n"
    with atomic_open(run_dir / TABLE_FILE) as stream:
        stream.write(header + "\n".join(tables))
    selectors = "\n".join(part for part in selector_parts if part)
    with atomic_open(run_dir / SELECTORS_FILE) as stream:
        stream.write(f"# {config.name}: RSPG selectors\n\n" + (selectors or "No RSPG run.\n"))
    atomic_write_json(
        run_dir / METRICS_FILE,
        {
            "run": config.name,
            "split": config.eval_split,
            "aggregate": config.aggregate,
            "metrics": metrics,
            "significance_p_values": significance,
        },
        indent=1,
    )
    atomic_write_json(run_dir / FINGERPRINTS_FILE, fingerprints(ctx), indent=1)
    return {"files": [TABLE_FILE, SELECTORS_FILE, METRICS_FILE, FINGERPRINTS_FILE]}


def plan_report(ctx: RunContext) -> list[Unit]:
    """One unit, run every time: the report files from whatever the other stages wrote."""
    return [Unit("report", "report", {}, partial(write_report, ctx))]
