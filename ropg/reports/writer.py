"""Writing a report's files into a run directory (what the benchmark's report stage calls)."""

from __future__ import annotations

from pathlib import Path

from ropg.reports.html import render_html
from ropg.reports.latex import latex_files
from ropg.reports.model import Report
from ropg.utils.io import atomic_open

HTML_FILE = "report.html"


def write_html_report(path: str | Path, report: Report) -> Path:
    """Write ``report`` as one self-contained HTML page at ``path`` (atomically)."""
    target = Path(path)
    with atomic_open(target) as stream:
        stream.write(render_html(report))
    return target


def write_run_reports(run_dir: str | Path, report: Report) -> list[str]:
    """Write ``report.html`` and the LaTeX tables (``table3.tex``, one ``<section>.tex`` per
    other section with tables) into ``run_dir``; returns the file names written."""
    directory = Path(run_dir)
    write_html_report(directory / HTML_FILE, report)
    names = [HTML_FILE]
    for name, text in latex_files(report).items():
        with atomic_open(directory / name) as stream:
            stream.write(text)
        names.append(name)
    return names
