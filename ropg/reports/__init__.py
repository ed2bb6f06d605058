"""Reports of benchmark runs: a data model, and renderers to HTML, LaTeX and Markdown.

- :mod:`ropg.reports.model`: :class:`Report` = title, run metadata, sections of blocks
  (results tables, grids/heatmaps, text tables, interval and bar charts, text);
- :func:`collect_run_report`: the report of a run directory (``metrics.json``, ``scores/``,
  ``selection/``, ``config.yaml``, ``fingerprints.json``);
- :func:`write_run_reports`: ``report.html`` (self-contained) and ``table3.tex`` & co.;
- :func:`compare_runs`: two runs side by side (``ropg compare RUN_A RUN_B``).
"""

from __future__ import annotations

from ropg.reports.collect import collect_run_report
from ropg.reports.compare import compare_runs
from ropg.reports.html import render_html
from ropg.reports.latex import latex_files
from ropg.reports.markdown import report_markdown, section_markdown
from ropg.reports.model import (
    BarChart,
    GridBlock,
    Interval,
    IntervalChart,
    IntervalPanel,
    Report,
    ResultsBlock,
    Section,
    TableBlock,
    TextBlock,
)
from ropg.reports.writer import HTML_FILE, write_html_report, write_run_reports

__all__ = [
    "HTML_FILE",
    "BarChart",
    "GridBlock",
    "Interval",
    "IntervalChart",
    "IntervalPanel",
    "Report",
    "ResultsBlock",
    "Section",
    "TableBlock",
    "TextBlock",
    "collect_run_report",
    "compare_runs",
    "latex_files",
    "render_html",
    "report_markdown",
    "section_markdown",
    "write_html_report",
    "write_run_reports",
]
