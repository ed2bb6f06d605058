"""A :class:`~ropg.reports.model.Report` from what a benchmark run directory holds today.

:func:`collect_run_report` reads ``metrics.json`` (values and the p-values behind every
marker), ``scores/**`` (per-example values: the confidence intervals), ``selection/**`` (RSPG
success rates, QPP baselines, oracle bounds, winning rates), ``config.yaml`` and
``fingerprints.json``, and builds:

- ``table3``: per LLM, the paper's Table 3 (the same cells, markers and bold as ``table3.md``);
- ``intervals``: per LLM and task, each method's metric with a 95% bootstrap CI over examples;
- ``selectors``: per LLM, selector success rates, oracle bounds, the selected retrievers'
  metric against the oracle bounds and the winning rates.

Method families that declare their own sections add them with :meth:`Report.add`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ropg.benchmark.tables import Cell, ResultTable, Row
from ropg.errors import UserError
from ropg.lamp.metrics import LOWER_IS_BETTER
from ropg.reports.intervals import CONFIDENCE, RESAMPLES, bootstrap_interval
from ropg.reports.model import (
    BarChart,
    GridBlock,
    Interval,
    IntervalChart,
    IntervalPanel,
    Report,
    ResultsBlock,
    Section,
    TextBlock,
)
from ropg.reports.run_data import RunData, load_run

logger = logging.getLogger(__name__)

ANALYSIS = "analysis"
METRIC_AXES = {
    "accuracy": "accuracy (share correct, 0–1)",
    "f1": "macro-F1 (0–1)",
    "MAE": "MAE (rating points, lower is better)",
    "RMSE": "RMSE (rating points, lower is better)",
    "rouge-1": "ROUGE-1 F (0–1)",
    "rouge-L": "ROUGE-L F (0–1)",
}
# The report stage's wording (ropg/benchmark/stages/report.py), so that a collected table3
# renders byte-identical to table3.md (a test compares them).
SMOKE_NOTE = (
    "**Smoke run**: a tiny random model built on the fly; these numbers show that every stage "
    "works, not how good any method is."
)
QPP_LABELS = {"wig": "WIG", "nqc": "NQC", "sigma_max": "σmax", "sigma_x": "σx%", "random": "Random"}
SUCCESS_TITLE = (
    "Selector success rate (share of inputs where the chosen retriever is among the best)"
)
ORACLE_TITLE = "Oracle bounds (best / worst retriever per input)"


def metric_axis(metric: str) -> str:
    """An axis label with the unit of ``metric`` (the metric's name when unknown)."""
    return METRIC_AXES.get(metric, metric)


def _metric_keys(run: RunData, llm: str, task: str) -> list[str]:
    """The task's metrics in table order (the LaMP task's, else the order in metrics.json)."""
    from ropg.lamp import get_task

    try:
        return list(get_task(task).metric_keys)
    except UserError:  # a task of another family: whatever metrics.json holds
        keys: list[str] = []
        for method in run.methods(llm, task):
            entry = run.metrics["metrics"][llm][task][method]
            keys += [key for key in entry if key not in keys]
        return keys


def method_label(config: dict[str, Any], name: str) -> str:
    """A method's column header from the run's config: ``retrievers.<name>.label`` for a pool
    retriever; ``<family>.labels.<key>`` for a method named ``<family>-<key>`` (``ropg-kd``:
    ``ropg.labels.kd``); else the name itself."""
    entry = (config.get("retrievers") or {}).get(name)
    if isinstance(entry, dict) and entry.get("label"):
        return str(entry["label"])
    family, _, key = name.partition("-")
    labels = (
        (config.get(family) or {}).get("labels") if isinstance(config.get(family), dict) else None
    )
    if isinstance(labels, dict) and labels.get(key):
        return str(labels[key])
    return name


def table_columns(run: RunData, llm: str) -> tuple[list[tuple[str, str]], list[str]]:
    """``(columns, baselines)`` of one LLM's table: the methods in ``metrics.json`` in their
    order (the report stage writes them in column order), labelled from the config; the
    baselines are the pool retrievers (``retrievers`` in the config)."""
    names: list[str] = []
    for task in run.tasks(llm):
        names += [name for name in run.methods(llm, task) if name not in names]
    pool = run.config.get("retrievers") or {}
    labels = (run.metrics.get("labels") or {}).get(llm) or {}
    columns = [(name, labels.get(name) or method_label(run.config, name)) for name in names]
    return columns, [name for name in names if name in pool]


def _better(metric: str, value: float | None, other: float | None) -> bool:
    if value is None or other is None:
        return False
    return value < other if metric in LOWER_IS_BETTER else value > other


def results_table(run: RunData, llm: str) -> ResultTable:
    """One LLM's Table 3 from ``metrics.json``: values, and a marker where the stored p-value
    is below ``alpha`` and the method is better than that baseline."""
    columns, baselines = table_columns(run, llm)
    alpha = float(run.config.get("alpha", 0.05))
    rows = []
    tasks = list(run.config.get("tasks") or run.tasks(llm))
    for task in tasks:
        for metric in _metric_keys(run, llm, task):
            row = Row(task, metric)
            for method, _ in columns:
                value = run.value(llm, task, method, metric)
                if value is None:
                    continue
                beaten = tuple(
                    baseline
                    for baseline, p in run.p_values(llm, task, metric, method).items()
                    if p < alpha and _better(metric, value, run.value(llm, task, baseline, metric))
                )
                row.cells[method] = Cell(value, beaten)
            rows.append(row)
    entry = run.llm_entry(llm)
    spec = str(entry.get("spec", llm))
    if entry.get("build"):
        spec = spec.replace("{model}", f"<{entry['build']}>")
    smoke = bool(entry.get("smoke"))
    split = run.metrics.get("split", run.config.get("eval_split", ""))
    title = f"{entry.get('label') or llm} (`{spec}`), {split} split"
    return ResultTable(
        title=title + (" — smoke run" if smoke else ""),
        columns=columns,
        baselines=baselines,
        rows=rows,
        alpha=alpha,
        note=SMOKE_NOTE if smoke else "",
    )


def _llm_heading(run: RunData, llm: str) -> TextBlock:
    entry = run.llm_entry(llm)
    label = entry.get("label") or llm
    return TextBlock(f"### {label}" + (" (smoke run)" if entry.get("smoke") else ""))


def interval_charts(run: RunData, llm: str, table: ResultTable) -> list[IntervalChart]:
    """Per task, each method's metric (as in the table) with a 95% bootstrap CI over the
    examples (``scores/**`` per-example values; seeded with the run's seed)."""
    seed = int(run.config.get("seed", 0))
    baselines = set(table.baselines)
    charts = []
    for task in dict.fromkeys(row.task for row in table.rows):
        scores = run.scores.get(llm, {}).get(task, {})
        panels = []
        for metric in _metric_keys(run, llm, task):
            intervals = []
            for method, label in table.columns:
                entry = scores.get(method)
                values = None if entry is None else entry.per_example.get(metric)
                if values is None:
                    continue
                bounds = bootstrap_interval(values, seed=seed)
                intervals.append(
                    Interval(
                        label,
                        run.value(llm, task, method, metric),
                        None if bounds is None else bounds[0],
                        None if bounds is None else bounds[1],
                        len(values),
                        highlight=method not in baselines,
                    )
                )
            if intervals:
                lower = metric in LOWER_IS_BETTER
                panels.append(IntervalPanel(metric, metric_axis(metric), intervals, lower))
        if panels:
            charts.append(IntervalChart(task, panels))
    return charts


def selector_blocks(run: RunData, llm: str, table: ResultTable) -> list[Any]:
    """Success rates, oracle bounds, the selected retrievers against the oracle, winning rates
    of one LLM (nothing when it ran no selector)."""
    label_of = dict(table.columns)
    tasks = list(dict.fromkeys(row.task for row in table.rows))
    selectors: list[str] = []
    qpp: list[str] = []
    success_rows, oracle_rows, oracle_keys, charts = [], [], [], []
    for task in tasks:
        names = [n for n in run.selection_names(llm, task) if n != ANALYSIS]
        ordered = [m for m, _ in table.columns if m in names] + sorted(
            n for n in names if n not in label_of
        )
        rates: dict[str, float | None] = {}
        for name in ordered:
            selection = run.selection(llm, task, name) or {}
            if "success_rate" in selection:
                rates[name] = float(selection["success_rate"])
                selectors += [name] if name not in selectors else []
        analysis = run.selection(llm, task, ANALYSIS) or {}
        for name, value in analysis.get("qpp_success_rates", {}).items():
            rates[name] = float(value)
            qpp += [name] if name not in qpp else []
        if not rates and not analysis:
            continue
        success_rows.append((task, rates))
        oracle = {key: float(value) for key, value in analysis.get("oracle", {}).items()}
        oracle_keys += [key for key in oracle if key not in oracle_keys]
        oracle_rows.append((task, oracle))
        charts += _selector_charts(run, llm, task, analysis, selectors, label_of)
    if not success_rows:
        return []
    columns = [(name, label_of.get(name, name)) for name in selectors]
    columns += [(name, QPP_LABELS.get(name, name)) for name in qpp]
    return [
        _llm_heading(run, llm),
        GridBlock(SUCCESS_TITLE, columns, success_rows, corner="Task"),
        GridBlock(
            ORACLE_TITLE, [(k, k) for k in oracle_keys], oracle_rows, bold_max=False, corner="Task"
        ),
        *charts,
    ]


def _selector_charts(
    run: RunData,
    llm: str,
    task: str,
    analysis: dict[str, Any],
    selectors: list[str],
    label_of: dict[str, str],
) -> list[BarChart]:
    """The selected retrievers' metric against the oracle bounds; the winning rates."""
    charts = []
    pool = list(analysis.get("winning_rates", {}))
    metric = _metric_keys(run, llm, task)[0]
    bars = [(label_of.get(n, n), run.value(llm, task, n, metric)) for n in [*pool, *selectors]]
    oracle = analysis.get("oracle", {})
    lines = [(f"oracle {key}", float(value)) for key, value in oracle.items()]
    if any(value is not None for _, value in bars):
        charts.append(
            BarChart(
                f"{task}: selected retriever vs. oracle bounds",
                metric_axis(metric),
                bars,
                reference_lines=lines,
                highlight=[label_of.get(n, n) for n in selectors],
            )
        )
    if pool:
        rates = [(label_of.get(n, n), float(v)) for n, v in analysis["winning_rates"].items()]
        charts.append(
            BarChart(f"{task}: winning rate per retriever", "winning rate (% of wins)", rates, True)
        )
    return charts


def _summary(run: RunData) -> list[tuple[str, str]]:
    config = run.config
    code = run.fingerprints.get("code", {})
    facts = [
        ("run", run.name),
        ("split", str(run.metrics.get("split", config.get("eval_split", "")))),
        ("tasks", ", ".join(config.get("tasks") or [])),
        ("LLMs", ", ".join(run.llms)),
        ("examples", "all" if config.get("limit") is None else f"first {config['limit']}"),
        ("aggregate", str(run.metrics.get("aggregate", config.get("aggregate", "")))),
        ("alpha", f"{config.get('alpha', 0.05):g}"),
        ("seed", str(config.get("seed", 0))),
    ]
    commit = code.get("git_commit") or code.get("commit")
    if commit:
        facts.append(("commit", str(commit)[:12]))
    elif code.get("source_blake2b"):
        facts.append(("source digest", str(code["source_blake2b"])[:12]))
    return facts


def collect_run_report(run_dir: str | Path) -> Report:
    """The report of a finished (or partly finished) benchmark run directory."""
    run = load_run(run_dir)
    split = run.metrics.get("split", run.config.get("eval_split", ""))
    tables = {llm: results_table(run, llm) for llm in run.llms}
    results = Section(
        "table3",
        f"{run.name}: results on LaMP ({split} split)",
        [ResultsBlock(table) for table in tables.values()],
    )
    intervals = Section(
        "intervals",
        "Per task: each method with a 95% confidence interval",
        intro=f"Each method's metric (as in the table) and a {CONFIDENCE:.0%} percentile "
        f"bootstrap interval of the per-example mean ({RESAMPLES} resamples over the "
        f"examples, seed {run.config.get('seed', 0)}), for the metrics with per-example values. "
        "Highlighted: methods that are not baselines. Smoke-run LLMs are left out.",
    )
    selectors = Section(
        "selectors",
        "RSPG selectors",
        intro="Success rate: the share of inputs where the selector's retriever is among the "
        "best. Per task: the metric of the pool retrievers and of the selectors (highlighted) "
        "against the oracle bounds (dashed: the metric when the best (upper) or worst (lower) "
        "retriever of each input is chosen), and each pool retriever's winning rate (its share "
        "of the wins; ties count for every retriever tied for the best).",
    )
    for llm, table in tables.items():
        smoke = bool(run.llm_entry(llm).get("smoke"))
        charts = [] if smoke else interval_charts(run, llm, table)  # a random model's CIs
        if charts:
            intervals.blocks += [_llm_heading(run, llm), *charts]
        selectors.blocks += selector_blocks(run, llm, table)
    sections = [results] + [s for s in (intervals, selectors) if s.blocks]
    return Report(
        title=f"{run.name}: benchmark report",
        sections=sections,
        config=run.config,
        fingerprints=run.fingerprints,
        summary=_summary(run),
    )
