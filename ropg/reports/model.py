"""What a report is made of: data, not rendering.

A :class:`Report` is a title, the run's metadata (its resolved config and fingerprints) and an
ordered list of :class:`Section` objects. A section is a title and blocks; a block is one of:

- :class:`ResultsBlock`: a paper-style results table (:class:`ropg.benchmark.tables.ResultTable`:
  rows = task/metric, columns = methods, significance markers and best-in-row);
- :class:`GridBlock`: rows x columns of numbers (selector success rates, oracle bounds, the RPO
  retrieval x reflection grid); ``heatmap=True`` shades the cells by value;
- :class:`TableBlock`: rows of already formatted text (a comparison of two runs, a diff);
- :class:`IntervalChart`: per metric, each method's value with a 95% confidence interval;
- :class:`BarChart`: one value per bar (winning rates), optionally with reference lines (the
  oracle bounds);
- :class:`TextBlock`: a few lines of Markdown (headings, paragraphs, lists, ``**bold**``).

Method families produce sections; the report stage collects them; the renderers
(:mod:`ropg.reports.html`, :mod:`ropg.reports.latex`, :mod:`ropg.reports.markdown`) turn any of
them into a file without knowing which family made them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ropg.benchmark.tables import ResultTable


@dataclass
class ResultsBlock:
    """A results table in the paper's layout (markers and best-in-row by the shared logic)."""

    table: ResultTable


@dataclass
class GridBlock:
    """A grid of numbers: rows ``(label, {column key: value})``, columns ``(key, label)``.

    Attributes:
        bold_max: bold the maximum of each row (as :func:`ropg.benchmark.tables.render_grid`).
        heatmap: shade each cell by its value (HTML) — for grids read as a surface, such as a
            retrieval x reflection grid.
        corner: the header of the row-label column (e.g. ``retrieval \\ reflection``).
        value_label: what the numbers are, with their unit (shown with a heatmap).
    """

    title: str
    columns: list[tuple[str, str]]
    rows: list[tuple[str, dict[str, float | None]]]
    bold_max: bool = True
    note: str = ""
    heatmap: bool = False
    corner: str = ""
    value_label: str = ""


@dataclass
class TableBlock:
    """A table of formatted text cells (the first column is a label column)."""

    title: str
    headers: list[str]
    rows: list[list[str]]
    note: str = ""


@dataclass
class Interval:
    """One method's value and its confidence interval (``low``/``high``; None: no interval)."""

    label: str
    value: float | None
    low: float | None = None
    high: float | None = None
    count: int = 0
    highlight: bool = False


@dataclass
class IntervalPanel:
    """One metric of an :class:`IntervalChart`: an axis label with its unit, and the bars."""

    metric: str
    axis_label: str
    intervals: list[Interval]
    lower_is_better: bool = False


@dataclass
class IntervalChart:
    """Values with confidence intervals, one panel per metric (e.g. one task's metrics)."""

    title: str
    panels: list[IntervalPanel]
    note: str = ""


@dataclass
class BarChart:
    """Bars with values; ``percent`` shows them as percentages; ``reference_lines`` are
    labelled horizontal lines (e.g. the oracle's upper and lower bound)."""

    title: str
    axis_label: str
    bars: list[tuple[str, float | None]]
    percent: bool = False
    reference_lines: list[tuple[str, float]] = field(default_factory=list)
    highlight: list[str] = field(default_factory=list)
    note: str = ""


@dataclass
class TextBlock:
    """Free text in a small Markdown subset (headings, paragraphs, ``- `` lists, ``**bold**``,
    ```code```, links)."""

    text: str


Block = ResultsBlock | GridBlock | TableBlock | IntervalChart | BarChart | TextBlock
TABLE_BLOCKS = (ResultsBlock, GridBlock, TableBlock)


@dataclass
class Section:
    """A titled part of a report. ``name`` is its anchor and the stem of its LaTeX file
    (``table3`` -> ``table3.tex``)."""

    name: str
    title: str
    blocks: list[Block] = field(default_factory=list)
    intro: str = ""

    @property
    def tables(self) -> list[Block]:
        """The blocks that are tables (what LaTeX writes)."""
        return [block for block in self.blocks if isinstance(block, TABLE_BLOCKS)]


@dataclass
class Report:
    """A whole report: title, summary facts, the run's config and fingerprints, sections."""

    title: str
    sections: list[Section] = field(default_factory=list)
    config: Mapping[str, Any] = field(default_factory=dict)
    fingerprints: Mapping[str, Any] = field(default_factory=dict)
    summary: list[tuple[str, str]] = field(default_factory=list)

    def section(self, name: str) -> Section | None:
        """The section called ``name`` (None if there is none)."""
        return next((section for section in self.sections if section.name == name), None)

    def add(self, sections: Sequence[Section]) -> None:
        """Append sections (e.g. the ones a method family declares)."""
        self.sections.extend(sections)
