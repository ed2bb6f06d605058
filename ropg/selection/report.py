"""The selection report: every selector on one set of inputs, as a table and a bar chart.

Rows: each single retriever, the best single retriever (chosen on the train records), the QPP
selectors, random, any trained selectors passed in (RSPG-Pre/Post), and the oracle bounds.
Columns: the success rate and the task's official metrics of the selected outputs.
:func:`write_report` writes ``analysis.json``, ``analysis.md`` and ``winning_rates.png``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ropg.lamp.tasks import Task
from ropg.selection.analysis import (
    evaluate_selection,
    oracle_names,
    plot_winning_rates,
    success_rate,
    winning_rates,
)
from ropg.selection.baselines import (
    PREDICTORS,
    QPP_SELECTORS,
    select_always,
    select_best_single,
    select_random,
)
from ropg.selection.records import PoolRecord, pool_names, records_task
from ropg.utils.io import atomic_open, atomic_write_json

REPORT_JSON = "analysis.json"
REPORT_MD = "analysis.md"
WINNING_PNG = "winning_rates.png"


def qpp_selections(records: Sequence[PoolRecord], sigma_x: float = 0.5) -> dict[str, list[str]]:
    """Selections of the QPP selectors on ``records``, keyed by predictor name."""
    return {
        name: QPP_SELECTORS[name](records, **({"x": sigma_x} if name == "sigma_x" else {}))
        for name in PREDICTORS
    }


def baseline_selections(
    train_records: Sequence[PoolRecord],
    records: Sequence[PoolRecord],
    sigma_x: float = 0.5,
    seed: int = 0,
) -> dict[str, list[str]]:
    """Selections of the untrained selectors on ``records`` (best single from the train ones)."""
    selections = {f"always {name}": select_always(records, name) for name in pool_names(records)}
    best = select_best_single(train_records)
    selections[f"best single ({best})"] = select_always(records, best)
    for name, names in qpp_selections(records, sigma_x).items():
        label = f"sigma_{round(100 * sigma_x)}%" if name == "sigma_x" else name
        selections[f"QPP {label}"] = names
    selections["random"] = select_random(records, seed)
    return selections


def selection_figures(
    records: Sequence[PoolRecord],
    names: Sequence[str],
    task: str | Task | None = None,
    prefix: str = "",
) -> dict[str, float]:
    """``success_rate`` and the official metrics of one selection, keys prefixed."""
    figures = {
        "success_rate": success_rate(records, names),
        **evaluate_selection(records, names, task),
    }
    return {f"{prefix}{key}": value for key, value in figures.items()}


def selection_rows(
    records: Sequence[PoolRecord],
    selections: Mapping[str, Sequence[str]],
    task: str | Task | None = None,
) -> list[dict[str, Any]]:
    """One row per selector (then the oracle bounds): success rate and official metrics."""
    metric_task = records_task(records, task)
    everything = {
        **selections,
        "oracle upper bound": oracle_names(records, best=True),
        "oracle lower bound": oracle_names(records, best=False),
    }
    return [
        {"method": method, **selection_figures(records, names, metric_task)}
        for method, names in everything.items()
    ]


def markdown_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows as a GitHub markdown table (floats with 3 decimals)."""
    if not rows:
        return ""
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "|".join("---" for _ in keys) + "|"]
    for row in rows:
        cells = [f"{row[k]:.3f}" if isinstance(row[k], float) else str(row[k]) for k in keys]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_report(
    output_dir: str | os.PathLike[str],
    train_records: Sequence[PoolRecord],
    records: Sequence[PoolRecord],
    trained: Mapping[str, Sequence[str]] | None = None,
    task: str | Task | None = None,
    sigma_x: float = 0.5,
    seed: int = 0,
) -> dict[str, Any]:
    """Write the report on ``records`` into ``output_dir``; returns its content and paths."""
    output = Path(output_dir)
    metric_task = records_task(records, task)
    selections = {**baseline_selections(train_records, records, sigma_x, seed), **(trained or {})}
    rows = selection_rows(records, selections, metric_task)
    rates = winning_rates(records)
    title = f"{metric_task.name}: winning rate per retriever ({len(records)} inputs)"
    png = plot_winning_rates(rates, output / WINNING_PNG, title)
    table = markdown_table(rows)
    rate_table = markdown_table(
        [{"retriever": name, "winning_rate": rate} for name, rate in rates.items()]
    )
    report = {
        "task": metric_task.name,
        "inputs": len(records),
        "rows": rows,
        "winning_rates": rates,
        "files": {"json": str(output / REPORT_JSON), "markdown": str(output / REPORT_MD)},
        "png": str(png),
    }
    atomic_write_json(output / REPORT_JSON, report, indent=2)
    with atomic_open(output / REPORT_MD) as stream:
        stream.write(f"## {metric_task.name}: retriever selection on {len(records)} inputs\n\n")
        stream.write(table + "\n### Winning rate (every tied best wins; sums to 1)\n\n")
        stream.write(rate_table + f"\n![winning rates]({WINNING_PNG})\n")
    report["markdown"] = table
    return report
