"""Renderers of ropg.reports on reports built in the test: a method family's own section (a
results table, an RPO-like retrieval x reflection heatmap, a text table) appears in HTML and
LaTeX without any change to ropg; labels are escaped; pages are self-contained and stable."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from ropg.benchmark.tables import Cell, ResultTable, Row, render_results
from ropg.reports import (
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
    latex_files,
    render_html,
    section_markdown,
    write_run_reports,
)
from ropg.reports.intervals import bootstrap_interval
from ropg.reports.latex import escape

NASTY = "Self-Refine_v2 & <b>50%</b> #1 {x} ~^\\ $"


def family_report() -> Report:
    """Table 3 plus a section a new family (RPO-like) declares itself."""
    columns = [("none", "No pers."), ("bm25", "BM25"), ("rpo", NASTY)]
    rows = [
        Row("LaMP-4", "rouge-1", {"none": Cell(0.1), "bm25": Cell(0.2), "rpo": Cell(0.25, ("none", "bm25"))}),
        Row("LaMP-3", "MAE", {"none": Cell(0.9), "bm25": Cell(0.8, ("none",)), "rpo": Cell(0.8)}),
    ]  # fmt: skip
    table = ResultTable("reader (`reader:profile`), dev split", columns, ["none", "bm25"], rows)
    grid = GridBlock(
        "LaMP-4: ROUGE-1 by retrieval and reflection",
        [("none", "no reflection"), ("once", "1 step"), ("twice", "2 steps")],
        [("BM25", {"none": 0.20, "once": 0.24, "twice": 0.26}),
         ("Contriever", {"none": 0.18, "once": 0.22, "twice": None})],
        heatmap=True,
        corner="retrieval \\ reflection",
        value_label="ROUGE-1",
    )  # fmt: skip
    family = Section(
        "rpo",
        "RPO: reflection",
        [
            TextBlock("### reader\n\nA **bold** note with `code` and <script>alert(1)</script>."),
            grid,
            TableBlock("Multistage rows", ["Stage", "R-1"], [["summarize", ".301"]]),
            IntervalChart(
                "LaMP-4",
                [IntervalPanel("rouge-1", "ROUGE-1 F (0–1)", [Interval("BM25", 0.2, 0.15, 0.25, 9)])],
            ),
            BarChart("winning rates", "winning rate (%)", [("BM25", 0.6), ("none", 0.4)], True),
        ],
    )  # fmt: skip
    return Report("tiny: report", [Section("table3", "tiny: results", [ResultsBlock(table)]), family],
                  config={"name": "tiny", "k": 4}, fingerprints={"code": {"source": "abc"}},
                  summary=[("run", "tiny")])  # fmt: skip


def test_a_family_section_is_rendered_to_every_format(tmp_path: Path) -> None:
    report = family_report()
    names = write_run_reports(tmp_path, report)
    assert names == ["report.html", "table3.tex", "rpo.tex"]
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert 'id="rpo"' in page and "RPO: reflection" in page and "Multistage rows" in page
    assert page.count("<svg") == 2
    rpo_tex = (tmp_path / "rpo.tex").read_text(encoding="utf-8")
    assert "retrieval \\textbackslash{} reflection" in rpo_tex and r"\textbf{.260}" in rpo_tex
    assert "reader: LaMP-4: ROUGE-1" in rpo_tex  # the heading gives the caption its LLM
    markdown = section_markdown(report.sections[0])
    assert markdown == "# tiny: results\n\n" + render_results(report.sections[0].blocks[0].table)


def test_the_heatmap_shades_cells_by_value_and_bolds_the_row_maximum() -> None:
    page = render_html(family_report())
    grid = page[page.index('<table class="grid heatmap sortable">') :]
    grid = grid[: grid.index("</table>")]
    shades = re.findall(r'data-value="([0-9.]+)" style="background:#([0-9a-f]{6})', grid)
    darkness = {float(v): sum(int(c[i : i + 2], 16) for i in (0, 2, 4)) for v, c in shades}
    ordered = sorted(darkness)
    assert [darkness[v] for v in ordered] == sorted(darkness.values(), reverse=True)
    assert '<td class="num best" data-key="twice" data-value="0.26"' in grid
    assert "–" in grid  # the missing cell


def test_labels_cannot_inject_markup_and_the_page_loads_nothing() -> None:
    page = render_html(family_report())
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;50%&lt;/b&gt;" in page and "<strong>bold</strong>" in page
    assert page.count("<script>") == 1  # the sort script only
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "<link" not in page and "@import" not in page
    assert not re.search(r"url\((?!#)", page)  # only the charts' own clip paths
    assert "default-src 'none'" in page  # the page may not request anything
    assert page == render_html(family_report())  # deterministic (charts too)


def test_results_cells_in_latex_are_table3_md_cells() -> None:
    tex = latex_files(family_report())["table3.tex"]
    assert r"\textbf{.250}\textsuperscript{ab}" in tex  # bold best, both baselines beaten
    assert r"\textbf{.800}\textsuperscript{a} & \textbf{.800}" in tex  # ties, lower is better
    assert escape(NASTY) in tex and r"\texttt{reader:profile}" in tex
    assert escape(NASTY) == (
        r"Self-Refine\_v2 \& \textless{}b\textgreater{}50\%\textless{}/b\textgreater{} \#1 "
        r"\{x\} \textasciitilde{}\textasciicircum{}\textbackslash{} \$"
    )


def test_escaped_family_tables_compile(tmp_path: Path) -> None:
    pdflatex = shutil.which("pdflatex")
    if pdflatex is None:
        pytest.skip("no pdflatex found: install texlive-latex-base and texlive-latex-recommended")
    files = latex_files(family_report())
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    inputs = "".join(f"\\input{{{name}}}\n" for name in files)
    (tmp_path / "doc.tex").write_text(
        "\\documentclass{article}\n\\usepackage[T1]{fontenc}\n\\usepackage{booktabs}\n"
        f"\\begin{{document}}\n{inputs}\\end{{document}}\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [pdflatex, "-interaction=nonstopmode", "-halt-on-error", "doc.tex"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]


def test_bootstrap_intervals_are_seeded_and_cover_the_mean() -> None:
    values = np.random.default_rng(3).random(40)
    low, high = bootstrap_interval(values, seed=1)
    assert low < values.mean() < high
    assert bootstrap_interval(values, seed=1) == (low, high)
    assert bootstrap_interval(values, seed=2) != (low, high)
    wider = bootstrap_interval(values[:10], seed=1)
    assert wider[1] - wider[0] > high - low  # fewer examples, a wider interval
    assert bootstrap_interval([0.5, 0.5, 0.5]) == (0.5, 0.5)
    assert bootstrap_interval([1.0]) is None
