"""``report``: ``metrics.json``, ``table3.md``, ``fingerprints.json``, and each family's files.

Reads the scores and feedback headers the other stages wrote; table3's columns are every
family's methods, in family order; methods that have not run show as ``–``. Each family then
writes its own report files (RSPG: ``selectors.md``). It runs every time (it is cheap and
deterministic), so the tables of a finished run are byte-identical however often, or with
however many interruptions, it ran.
"""

from __future__ import annotations

import json
import logging
from functools import partial
from pathlib import Path
from typing import Any

from ropg.benchmark.config import LLMEntry
from ropg.benchmark.context import RunContext
from ropg.benchmark.family import Method
from ropg.benchmark.runner import Stage, Unit
from ropg.benchmark.tables import Cell, ResultTable, Row, render_results, significance_against
from ropg.feedback.jsonl import HEADER_KEY
from ropg.utils.io import atomic_open, atomic_write_json

logger = logging.getLogger(__name__)

TABLE_FILE = "table3.md"
METRICS_FILE = "metrics.json"
FINGERPRINTS_FILE = "fingerprints.json"
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


def table_methods(ctx: RunContext, llm: LLMEntry, table: str = "table3") -> list[Method]:
    """A table's columns for ``llm``: the methods of every family it runs that are columns of
    ``table``, in family order."""
    config = ctx.config
    return [
        method
        for family in config.family_list()
        if family.runs(config, llm)
        for method in family.methods(config, llm)
        if method.table == table
    ]


def results_table(
    ctx: RunContext,
    llm: LLMEntry,
    methods: list[Method] | None = None,
    title: str | None = None,
) -> tuple[ResultTable, dict[str, Any], dict[str, Any]]:
    """The Table-3 layout for one LLM (or of ``methods``; their ``baseline`` ones get the
    markers), the p-values behind its markers, and the official metrics per task and method
    (each scores file is read once)."""
    from ropg.lamp import get_task

    config = ctx.config
    methods = table_methods(ctx, llm) if methods is None else methods
    baselines = [m.name for m in methods if m.baseline]
    rows, pvalues, metrics = [], {}, {}
    for task in config.tasks:
        if not any(method.runs_on(task) for method in methods):
            continue  # no column of this table runs on the task
        scores = _scores(ctx, llm, task, methods)
        metrics[task] = {name: entry["metrics"] for name, entry in scores.items()}
        for metric in get_task(task).metric_keys:
            row = Row(task, metric)
            for method in methods:
                if method.name not in scores:
                    continue
                entry = scores[method.name]
                values = entry["per_example"]
                beaten = []
                for baseline in baselines:
                    other = scores.get(baseline, {}).get("per_example")
                    if baseline == method.name or other is None:
                        continue
                    tested = significance_against(metric, values, other, config.alpha)
                    if tested is None:  # per-example values without this metric's inputs
                        continue
                    better, p = tested
                    pvalues.setdefault(task, {}).setdefault(metric, {}).setdefault(method.name, {})[
                        baseline
                    ] = p
                    if better:
                        beaten.append(baseline)
                row.cells[method.name] = Cell(float(entry["metrics"][metric]), tuple(beaten))
            rows.append(row)
    spec = llm.spec if llm.build is None else llm.spec.replace("{model}", f"<{llm.build}>")
    title = title or f"{llm.label} (`{spec}`), {config.eval_split} split"
    table = ResultTable(
        title=title + (" — smoke run" if llm.smoke else ""),
        columns=[(m.name, m.label) for m in methods],
        baselines=baselines,
        rows=rows,
        alpha=config.alpha,
        note=SMOKE_NOTE if llm.smoke else "",
    )
    return table, pvalues, metrics


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
        first = ctx.feedback_path(llm.name, config.tasks[0], config.eval_split, "any")
        for path in sorted(first.parent.glob(f"{config.eval_split}.*.jsonl")):  # any of this LLM
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
    tables, metrics = [], {}
    significance = {}
    for llm in config.llms:
        table, pvalues, metrics[llm.name] = results_table(ctx, llm)
        tables.append(render_results(table))
        significance[llm.name] = pvalues
    header = f"# {config.name}: results on LaMP ({config.eval_split} split)\n\n"
    with atomic_open(run_dir / TABLE_FILE) as stream:
        stream.write(header + "\n".join(tables))
    atomic_write_json(
        run_dir / METRICS_FILE,
        {
            "run": config.name,
            "split": config.eval_split,
            "aggregate": config.aggregate,
            "metrics": metrics,
            "significance_p_values": significance,
            "labels": {
                llm.name: {method.name: method.label for method in table_methods(ctx, llm)}
                for llm in config.llms
            },
        },
        indent=1,
    )
    atomic_write_json(run_dir / FINGERPRINTS_FILE, fingerprints(ctx), indent=1)
    files = [TABLE_FILE, METRICS_FILE, FINGERPRINTS_FILE]
    for family in config.family_list():
        files += family.write_report(ctx)
    files += write_visual_reports(ctx)
    return {"files": files}


def write_visual_reports(ctx: RunContext) -> list[str]:
    """``report.html`` and the LaTeX tables: the run's data, plus every family's sections."""
    from ropg.reports import collect_run_report, write_run_reports

    report = collect_run_report(ctx.run_dir)
    for family in ctx.config.family_list():
        report.add(family.report_sections(ctx))
    return list(write_run_reports(ctx.run_dir, report))


def plan_report(ctx: RunContext) -> list[Unit]:
    """One unit, run every time: the report files from whatever the other stages wrote."""
    return [Unit("report", "report", {}, partial(write_report, ctx))]


REPORT_STAGE = Stage(
    "report", plan_report, always=True, description="tables, metrics and fingerprints"
)
