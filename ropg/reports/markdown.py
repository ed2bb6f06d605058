"""Markdown of a report's sections (what ``ropg compare`` prints; ``table3`` as ``table3.md``).

Results tables and grids go through :mod:`ropg.benchmark.tables`, so a collected ``table3``
section renders byte-identical to the run's ``table3.md``. Charts have no Markdown form and are
left out (they are in ``report.html``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ropg.benchmark.tables import render_grid, render_results
from ropg.reports.model import (
    BarChart,
    GridBlock,
    IntervalChart,
    Report,
    ResultsBlock,
    Section,
    TableBlock,
    TextBlock,
)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def table_markdown(block: TableBlock) -> str:
    """A :class:`TableBlock` as a Markdown table with its title and note."""
    lines = [f"### {block.title}", ""] if block.title else []
    lines += [
        "| " + " | ".join(_cell(h) for h in block.headers) + " |",
        "|" + "---|" * len(block.headers),
    ]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in block.rows]
    if block.note:
        lines += ["", block.note]
    return "\n".join(lines) + "\n"


def _grid(block: GridBlock) -> str:
    return render_grid(block.title, block.columns, block.rows, block.bold_max, block.note)


def _text(block: TextBlock) -> str:
    return block.text.rstrip("\n") + "\n"


def _nothing(block: Any) -> str:
    return ""


BLOCK_MARKDOWN: dict[type, Callable[[Any], str]] = {
    ResultsBlock: lambda block: render_results(block.table),
    GridBlock: _grid,
    TableBlock: table_markdown,
    TextBlock: _text,
    IntervalChart: _nothing,
    BarChart: _nothing,
}


def section_markdown(section: Section, level: int = 1) -> str:
    """``# title``, the intro, then every block's Markdown (blocks joined by a blank line)."""
    parts = [BLOCK_MARKDOWN[type(block)](block) for block in section.blocks]
    head = f"{'#' * level} {section.title}\n\n" + (f"{section.intro}\n\n" if section.intro else "")
    return head + "\n".join(part for part in parts if part)


def report_markdown(report: Report) -> str:
    """The whole report as one Markdown document (charts left out)."""
    parts = [f"# {report.title}\n"]
    if report.summary:
        parts.append("\n".join(f"- {key}: {value}" for key, value in report.summary) + "\n")
    parts += [section_markdown(section, level=2) for section in report.sections]
    return "\n".join(parts)
