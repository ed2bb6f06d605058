"""Markdown tables in the paper's layout (SIGIR'24 Table 3) and the selector tables.

:func:`render_results` takes a :class:`ResultTable` (rows = task/metric, columns = methods,
each cell a value and the baselines it beats significantly) and writes:

- values to 3 decimals without the leading zero (``.502``), as in the paper;
- the best value of each row in bold (every tied value; lower is better for MAE/RMSE);
- a superscript letter per baseline the cell is significantly better than (p < alpha, each
  metric with its paired test, :mod:`ropg.lamp.stats`: McNemar for accuracy, a paired
  randomization test for macro-F1 and RMSE, a two-tailed paired t-test for MAE and ROUGE;
  the legend names the tests of the table's rows);
- ``–`` where a method has no result.

:func:`significance_against` computes those markers from per-example values.
:func:`shown_row`, :func:`results_legend` and :func:`grid_best` decide what each cell shows
(value text, bold, letters) once, for every renderer: Markdown here, HTML and LaTeX in
:mod:`ropg.reports`.
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


@dataclass(frozen=True)
class ShownCell:
    """A results cell as every renderer (Markdown, HTML, LaTeX) shows it: the formatted
    value (or ``–``), whether it is the best of its row, the superscript letters."""

    text: str
    best: bool = False
    marks: str = ""
    value: float | None = None


def shown_cell(cell: Cell | None, best: bool, letters: Mapping[str, str]) -> ShownCell:
    """What a cell shows: value text, bold or not, the letters of the baselines it beats."""
    if cell is None or cell.value is None:
        return ShownCell(MISSING)
    marks = "".join(letters[name] for name in letters if name in cell.better_than)
    return ShownCell(format_value(cell.value), best, marks, float(cell.value))


def shown_row(table: ResultTable, row: Row) -> list[ShownCell]:
    """The shown cells of one row, in column order (best in row and markers decided once)."""
    letters = marker_letters(table.baselines)
    best = best_methods(row)
    return [shown_cell(row.cells.get(name), name in best, letters) for name, _ in table.columns]


def render_cell(cell: Cell | None, best: bool, letters: Mapping[str, str]) -> str:
    return markdown_cell(shown_cell(cell, best, letters))


def markdown_cell(shown: ShownCell) -> str:
    """``**.502**<sup>ab</sup>``: a shown cell in Markdown."""
    text = f"**{shown.text}**" if shown.best else shown.text
    return f"{text}<sup>{shown.marks}</sup>" if shown.marks else text


def results_legend(table: ResultTable) -> str:
    """The legend under a results table (plain text, shared by every renderer)."""
    letters = marker_letters(table.baselines)
    label_of = dict(table.columns)
    legend = ", ".join(f"{letters[name]} = {label_of.get(name, name)}" for name in table.baselines)
    return (
        f"Bold: best in row. Superscripts: significantly better (p < {table.alpha:g}; "
        f"{tests_legend(table)}) than {legend}. MAE/RMSE: lower is better."
    )


def tests_legend(table: ResultTable) -> str:
    """Which test each metric of the table got: ``McNemar's test for Acc; ... for F1, RMSE``
    (tests in order of first use; the metrics as the rows label them)."""
    from ropg.lamp.stats import paired_test_label

    metrics_of: dict[str, list[str]] = {}
    for row in table.rows:
        metrics = metrics_of.setdefault(paired_test_label(row.metric), [])
        label = METRIC_LABELS.get(row.metric, row.metric)
        if label not in metrics:
            metrics.append(label)
    if not metrics_of:
        return "no rows"
    return "; ".join(f"{test} for {', '.join(metrics)}" for test, metrics in metrics_of.items())


def render_results(table: ResultTable) -> str:
    """The Markdown of a results table, with its legend."""
    labels = [label for _, label in table.columns]
    lines = [
        f"### {table.title}",
        "",
        "| Task | Metric | " + " | ".join(labels) + " |",
        "|---|---|" + "---|" * len(labels),
    ]
    for row in table.rows:
        cells = [markdown_cell(shown) for shown in shown_row(table, row)]
        metric = METRIC_LABELS.get(row.metric, row.metric)
        lines.append(f"| {row.task} | {metric} | " + " | ".join(cells) + " |")
    lines += ["", results_legend(table)]
    if table.note:
        lines += ["", table.note]
    return "\n".join(lines) + "\n"


def significance_against(
    metric: str,
    values: Mapping[str, Sequence[float]] | Sequence[float],
    baseline_values: Mapping[str, Sequence[float]] | Sequence[float],
    alpha: float,
    seed: int = 0,
) -> tuple[bool, float] | None:
    """``(significantly better, p)`` of a method over a baseline on ``metric``, with the
    metric's paired test (:func:`ropg.lamp.stats.compare`); None when the per-example values
    lack what that test reads (e.g. a scores file written before F1 had label indices).

    ``values``/``baseline_values``: the two systems' per-example values (the scores file's
    ``per_example`` mapping, or the one array the metric's test reads).
    """
    from ropg.lamp.stats import compare, has_inputs

    if not (has_inputs(metric, values) and has_inputs(metric, baseline_values)):
        return None
    result = compare(metric, values, baseline_values, seed=seed)
    better = result.difference < 0 if metric in LOWER_IS_BETTER else result.difference > 0
    return bool(better and result.p_value < alpha), float(result.p_value)


def grid_best(
    columns: Sequence[tuple[str, str]], values: Mapping[str, float | None], bold_max: bool = True
) -> set[str]:
    """The keys of a grid row holding its maximum at the shown precision (none if not
    ``bold_max``)."""
    present = {k: round(v, 3) for k, _ in columns if (v := values.get(k)) is not None}
    if not present or not bold_max:
        return set()
    top = max(present.values())
    return {key for key, value in present.items() if value == top}


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
        best = grid_best(columns, values, bold_max)
        cells = []
        for key, _ in columns:
            text = format_value(values.get(key))
            cells.append(f"**{text}**" if key in best else text)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    if note:
        lines += ["", note]
    return "\n".join(lines) + "\n"
