"""How good a choice of retrievers is: success rate, end metrics, oracle bounds, winning rates.

All functions take pool records (:mod:`ropg.selection.records`) and, where a selection is
judged, one retriever name per record:

- :func:`success_rate`: the share of inputs whose selected retriever is among the best for
  that input (ties count: choosing any of the best is a success; paper, Table 4);
- :func:`evaluate_selection`: the official metrics (:meth:`Task.evaluate`) of the selected
  retrievers' outputs;
- :func:`oracle_bounds` / :func:`oracle_metrics`: the end metric / all metrics for the
  per-input best (``upper``) and worst (``lower``) retriever by feedback score (paper, Table 5);
- :func:`winning_rates`: per retriever, how often it is among the best (every tied best wins;
  paper, Figure 3), normalized over all wins (``"total"``, the paper's relative rate, summing
  to 1) or over inputs (``"inputs"``); :func:`plot_winning_rates` draws them as a bar chart.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ropg.errors import UserError
from ropg.lamp.tasks import Task
from ropg.selection.records import PoolRecord, pool_names, records_task

TOLERANCE = 1e-9
NORMALIZATIONS = ("total", "inputs")


def _check(records: Sequence[PoolRecord], names: Sequence[str]) -> None:
    if len(records) != len(names):
        raise UserError(f"{len(records)} records but {len(names)} selections")
    if not records:
        raise UserError("no records to judge a selection on")
    for record, name in zip(records, names):
        if name not in record.retrievers:
            raise UserError(f"record {record.id!r}: {name!r} is not in the pool")


def best_mask(records: Sequence[PoolRecord], tolerance: float = TOLERANCE) -> np.ndarray:
    """``(N, P)`` bool: which retrievers reach the best feedback score of each record."""
    scores = np.stack([record.scores() for record in records])
    return scores >= scores.max(axis=1, keepdims=True) - tolerance


def success_rate(
    records: Sequence[PoolRecord], names: Sequence[str], tolerance: float = TOLERANCE
) -> float:
    """Share of records whose selected retriever has the record's best score (ties succeed)."""
    _check(records, names)
    hits = [
        record.retrievers[name].score >= record.scores().max() - tolerance
        for record, name in zip(records, names)
    ]
    return float(np.mean(hits))


def selected_outputs(records: Sequence[PoolRecord], names: Sequence[str]) -> list[str]:
    """The stored LLM output of each record's selected retriever."""
    _check(records, names)
    return [record.retrievers[name].output for record, name in zip(records, names)]


def evaluate_selection(
    records: Sequence[PoolRecord],
    names: Sequence[str],
    task: str | Task | None = None,
    aggregate: str = "mean",
) -> dict[str, float]:
    """Official metrics of the selected outputs (task: the records' unless given)."""
    outputs = selected_outputs(records, names)
    metric_task = records_task(records, task)
    return metric_task.evaluate([record.gold for record in records], outputs, aggregate=aggregate)


def oracle_names(records: Sequence[PoolRecord], best: bool = True) -> list[str]:
    """Per record, the retriever with the highest (``best``) or lowest feedback score."""
    choose = np.argmax if best else np.argmin
    return [record.names[int(choose(record.scores()))] for record in records]


def oracle_metrics(
    records: Sequence[PoolRecord], task: str | Task | None = None, aggregate: str = "mean"
) -> dict[str, dict[str, float]]:
    """``{"upper": metrics, "lower": metrics}``: always the best / worst retriever per input,
    with every official metric of the task."""
    return {
        bound: evaluate_selection(records, oracle_names(records, best), task, aggregate)
        for bound, best in (("upper", True), ("lower", False))
    }


def oracle_bounds(
    records: Sequence[PoolRecord], task: str | Task | None = None, aggregate: str = "mean"
) -> dict[str, float]:
    """``{"upper": value, "lower": value}`` of the task's end metric (its first official
    metric: accuracy, MAE or rouge-1) when the best / worst retriever of each input is chosen.

    For MAE the upper bound is the *smaller* number (lower is better);
    :func:`oracle_metrics` gives every metric.
    """
    key = records_task(records, task).metric_keys[0]
    metrics = oracle_metrics(records, task, aggregate)
    return {bound: values[key] for bound, values in metrics.items()}


def winning_rates(
    records: Sequence[PoolRecord], normalize: str = "total", tolerance: float = TOLERANCE
) -> dict[str, float]:
    """Per retriever, its share of wins (every retriever tied for the best wins)."""
    if normalize not in NORMALIZATIONS:
        raise UserError(f"normalize must be one of {NORMALIZATIONS}, got {normalize!r}")
    names = pool_names(records)
    wins = best_mask(records, tolerance).sum(axis=0).astype(np.float64)
    total = wins.sum() if normalize == "total" else float(len(records))
    return {name: float(count / total) for name, count in zip(names, wins)}


def plot_winning_rates(
    rates: Mapping[str, float], png_path: str | os.PathLike[str], title: str | None = None
) -> Path:
    """A bar chart of winning rates in percent (like the paper's Figure 3), as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ropg.utils.io import atomic_open

    names, values = list(rates), [100.0 * value for value in rates.values()]
    figure, axis = plt.subplots(figsize=(1.2 * len(names) + 2.0, 3.6))
    try:
        bars = axis.bar(names, values, color="#4C72B0")
        axis.bar_label(bars, labels=[f"{value:.1f}%" for value in values], fontsize=8)
        axis.set_ylabel("winning rate (%)")
        axis.set_ylim(0, max([*values, 1.0]) * 1.18)
        axis.set_title(title or "Winning rate per retriever")
        axis.tick_params(axis="x", labelrotation=20)
        figure.tight_layout()
        path = Path(png_path)
        with atomic_open(path, "wb") as stream:
            figure.savefig(stream, format="png", dpi=120)
    finally:
        plt.close(figure)
    return path
