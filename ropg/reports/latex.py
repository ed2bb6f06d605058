"""LaTeX tables (booktabs) of a report's sections, ready to ``\\input`` in a paper.

``table3.tex`` holds one ``table`` float per LLM; every other section with tables gets
``<section name>.tex``. The cells are those of ``table3.md`` (the shared
:func:`ropg.benchmark.tables.shown_row`): the same value text, ``\\textbf`` for the best in row,
``\\textsuperscript`` letters for the baselines beaten, ``--`` where a method has no result.
Labels are escaped (``& % $ # _ { } ~ ^ \\`` and a few Unicode signs such as σ), so any method
or task name compiles. The preamble needs ``\\usepackage{booktabs}``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ropg.benchmark.tables import (
    METRIC_LABELS,
    MISSING,
    format_value,
    grid_best,
    results_legend,
    shown_row,
)
from ropg.reports.model import GridBlock, Report, ResultsBlock, Section, TableBlock, TextBlock

SPECIALS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    "σ": r"$\sigma$",
    "–": "--",
    "—": "---",
    "×": r"$\times$",
    "±": r"$\pm$",
    "≤": r"$\leq$",
    "≥": r"$\geq$",
    "→": r"$\rightarrow$",
    "…": r"\ldots{}",
    "\u00a0": "~",
}
_SPECIAL = re.compile("|".join(re.escape(key) for key in SPECIALS))
_INLINE = re.compile(r"`([^`]+)`|\*\*(.+?)\*\*")
PREAMBLE_NOTE = "% Written by ropg. Needs \\usepackage{booktabs} in the preamble.\n"


def escape(text: str) -> str:
    """``text`` with LaTeX's special characters escaped."""
    return _SPECIAL.sub(lambda match: SPECIALS[match.group(0)], str(text))


def inline_latex(text: str) -> str:
    """Escaped text with Markdown ```code``` as ``\\texttt`` and ``**bold**`` as ``\\textbf``."""
    out, position = [], 0
    for match in _INLINE.finditer(text):
        out.append(escape(text[position : match.start()]))
        code, bold = match.groups()
        out.append(
            rf"\texttt{{{escape(code)}}}" if code is not None else rf"\textbf{{{escape(bold)}}}"
        )
        position = match.end()
    out.append(escape(text[position:]))
    return "".join(out)


def _value(text: str, best: bool = False, marks: str = "") -> str:
    shown = "--" if text == MISSING else text
    if best:
        shown = rf"\textbf{{{shown}}}"
    return shown + (rf"\textsuperscript{{{marks}}}" if marks else "")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40]


def _context(context: str) -> str:
    return f"{inline_latex(context)}: " if context else ""


def _float(spec: str, header: list[str], rows: list[str], caption: str, label: str) -> str:
    return "\n".join(
        [
            r"\begin{table}[t]",
            r"\centering",
            r"\small",
            rf"\caption{{{caption}}}",
            rf"\label{{{label}}}",
            rf"\begin{{tabular}}{{{spec}}}",
            r"\toprule",
            " & ".join(header) + r" \\",
            r"\midrule",
            *rows,
            r"\bottomrule",
            r"\end{tabular}",
            r"\end{table}",
            "",
        ]
    )


def results_latex(block: ResultsBlock, label: str = "tab:results", context: str = "") -> str:
    """A results table as a booktabs ``table`` float (legend in the caption)."""
    table = block.table
    header = ["Task", "Metric", *(escape(label) for _, label in table.columns)]
    rows, previous = [], None
    for row in table.rows:
        if previous is not None and row.task != previous:
            rows.append(r"\addlinespace")
        cells = [_value(s.text, s.best, s.marks) for s in shown_row(table, row)]
        task = escape(row.task) if row.task != previous else ""
        metric = escape(METRIC_LABELS.get(row.metric, row.metric))
        rows.append(" & ".join([task, metric, *cells]) + r" \\")
        previous = row.task
    caption = f"{_context(context)}{inline_latex(table.title)}. {escape(results_legend(table))}"
    if table.note:
        caption += " " + inline_latex(table.note)
    spec = "ll" + "r" * len(table.columns)
    return _float(spec, header, rows, caption, label)


def grid_latex(block: GridBlock, label: str = "tab:grid", context: str = "") -> str:
    """A grid of numbers (row maximum in bold unless ``bold_max`` is off)."""
    header = [escape(block.corner), *(escape(label) for _, label in block.columns)]
    rows = []
    for label, values in block.rows:
        best = grid_best(block.columns, values, block.bold_max)
        cells = [_value(format_value(values.get(k)), k in best) for k, _ in block.columns]
        rows.append(" & ".join([escape(label), *cells]) + r" \\")
    caption = _context(context) + inline_latex(block.title)
    caption += f". {inline_latex(block.note)}" if block.note else ""
    spec = "l" + "r" * len(block.columns)
    return _float(spec, header, rows, caption, label)


def table_latex(block: TableBlock, label: str = "tab:table", context: str = "") -> str:
    """A table of text cells."""
    header = [escape(h) for h in block.headers]
    rows = [" & ".join(escape(c) for c in row) + r" \\" for row in block.rows]
    caption = _context(context) + inline_latex(block.title)
    caption += f". {inline_latex(block.note)}" if block.note else ""
    spec = "l" + "r" * max(0, len(block.headers) - 1)
    return _float(spec, header, rows, caption, label)


BLOCK_LATEX: dict[type, Callable[[Any, str, str], str]] = {
    ResultsBlock: results_latex,
    GridBlock: grid_latex,
    TableBlock: table_latex,
}


def _block_title(block: Any) -> str:
    return block.table.title if isinstance(block, ResultsBlock) else block.title


def section_latex(section: Section) -> str:
    """Every table of a section, one float each, in a file to ``\\input``. A table under a
    Markdown heading (``### reader``) gets the heading in its caption; labels are unique
    (``tab:<section>-<title>``)."""
    parts, labels, context = [], set(), ""
    for block in section.blocks:
        if isinstance(block, TextBlock) and block.text.lstrip().startswith("#"):
            context = block.text.strip().splitlines()[0].lstrip("#").strip()
            continue
        if type(block) not in BLOCK_LATEX:
            continue
        base = "-".join(filter(None, [section.name, _slug(context), _slug(_block_title(block))]))
        label, count = f"tab:{base}", 1
        while label in labels:
            count += 1
            label = f"tab:{base}-{count}"
        labels.add(label)
        parts.append(BLOCK_LATEX[type(block)](block, label, context))
    return PREAMBLE_NOTE + "\n".join(parts)


def latex_files(report: Report) -> dict[str, str]:
    """``{file name: LaTeX}``: ``<section name>.tex`` for every section that has tables."""
    return {f"{s.name}.tex": section_latex(s) for s in report.sections if s.tables}
