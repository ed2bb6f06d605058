"""Markdown tables in the paper's layout (SIGIR'24 Table 3) and the selector tables.

:func:`render_results` takes a :class:`ResultTable` (rows = task/metric, columns = methods,
each cell a value and the baselines it beats significantly) and writes:

- values to 3 decimals without the leading zero (``.502``), as in the paper;
- the best value of each row in bold (every tied value; lower is better for MAE/RMSE);
- a superscript letter per baseline the cell is significantly better than (p < alpha:
  McNemar for accuracy, a two-tailed paired t-test for per-example MAE/ROUGE);
- ``–`` where a method has no result.

:func:`significance_against` computes those markers from per-example values.
"""

from __future__ import annotations

import math
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ropg.lamp.metrics import LOWER_IS_BETTER

MISSING = "–"
METRIC_LABELS = {
    "accuracy": "Acc",
    "f1": "F1",
    "MAE": "MAE",
    "RMSE": "RMSE",
    "rouge-1": "R-1",
    "rouge-L": "R-L",
}


@dataclass
class Cell:
    """One value and the baselines (method names) it is significantly better than."""

    value: float | None
    better_than: tuple[str, ...] = ()


@dataclass
class Row:
    """One task/metric row."""

    task: str
    metric: str
    cells: dict[str, Cell] = field(default_factory=dict)

    @property
    def higher_is_better(self) -> bool:
        return self.metric not in LOWER_IS_BETTER


@dataclass
class ResultTable:
    """A results table: columns ``(method, label)``, the baselines that get markers, rows."""

    title: str
    columns: list[tuple[str, str]]
    baselines: list[str]
    rows: list[Row]
    alpha: float = 0.05
    note: str = ""


def format_value(value: float | None) -> str:
    """``0.5021`` -> ``.502``; ``1.359`` stays; None/NaN -> ``–``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    text = f"{value:.3f}"
    if text.startswith("0."):
        return text[1:]
    if text.startswith("-0."):
        return "-" + text[2:]
    return text


def marker_letters(baselines: Sequence[str]) -> dict[str, str]:
    """``a``, ``b``, ... per baseline, in column order."""
    if len(baselines) > len(string.ascii_lowercase):
        raise ValueError("at most 26 baselines can get markers")
    return dict(zip(baselines, string.ascii_lowercase))


def best_methods(row: Row, decimals: int = 3) -> set[str]:
    """The methods with the best value of the row (as displayed: ties at the shown precision)."""
    shown = {
        name: round(cell.value, decimals)
        for name, cell in row.cells.items()
        if cell.value is not None and not math.isnan(cell.value)
    }
    if not shown:
        return set()
    best = max(shown.values()) if row.higher_is_better else min(shown.values())
    return {name for name, value in shown.items() if value == best}


def render_cell(cell: Cell | None, best: bool, letters: Mapping[str, str]) -> str:
    if cell is None or cell.value is None:
        return MISSING
    text = format_value(cell.value)
    if best:
        text = f"**{text}**"
    marks = "".join(letters[name] for name in letters if name in cell.better_than)
    return f"{text}<sup>{marks}</sup>" if marks else text


def render_results(table: ResultTable) -> str:
    """The Markdown of a results table, with its legend."""
    letters = marker_letters(table.baselines)
    labels = [label for _, label in table.columns]
    lines = [
        f"### {table.title}",
        "",
        "| Task | Metric | " + " | ".join(labels) + " |",
        "|---|---|" + "---|" * len(labels),
    ]
    for row in table.rows:
        best = best_methods(row)
        cells = [
            render_cell(row.cells.get(name), name in best, letters) for name, _ in table.columns
        ]
        metric = METRIC_LABELS.get(row.metric, row.metric)
        lines.append(f"| {row.task} | {metric} | " + " | ".join(cells) + " |")
    label_of = dict(table.columns)
    legend = ", ".join(f"{letters[name]} = {label_of.get(name, name)}" for name in table.baselines)
    lines += [
        "",
        f"Bold: best in row. Superscripts: significantly better (p < {table.alpha:g}; McNemar "
        f"for accuracy, two-tailed paired t-test for MAE and ROUGE) than {legend}. "
        "MAE/RMSE: lower is better.",
    ]
    if table.note:
        lines += ["", table.note]
    return "\n".join(lines) + "\n"


def significance_against(
    metric: str,
    values: Sequence[float],
    baseline_values: Sequence[float],
    alpha: float,
) -> tuple[bool, float]:
    """``(significantly better, p)`` of per-example ``values`` over a baseline's."""
    import numpy as np

    from ropg.lamp.stats import metric_p_value

    p = metric_p_value(metric, values, baseline_values)
    difference = float(np.mean(values) - np.mean(baseline_values))
    better = difference < 0 if metric in LOWER_IS_BETTER else difference > 0
    return bool(better and p < alpha), float(p)


def render_grid(
    title: str,
    columns: Sequence[tuple[str, str]],
    rows: Sequence[tuple[str, Mapping[str, float | None]]],
    bold_max: bool = True,
    note: str = "",
) -> str:
    """A plain table (rows = label, columns = keys), the row maximum in bold."""
    lines = [
        f"### {title}",
        "",
        "| | " + " | ".join(label for _, label in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for label, values in rows:
        present = [v for k, _ in columns if (v := values.get(k)) is not None]
        top = round(max(present), 3) if present and bold_max else None
        cells = []
        for key, _ in columns:
            value = values.get(key)
            text = format_value(value)
            if value is not None and top is not None and round(value, 3) == top:
                text = f"**{text}**"
            cells.append(text)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    if note:
        lines += ["", note]
    return "\n".join(lines) + "\n"
