"""report.html and the LaTeX tables of a real (quick-start-like) benchmark run: the page in a
real headless Chromium (no console errors, no request, the tables hold metrics.json's numbers,
sorting works, a screenshot is kept) and table3.tex compiled by pdflatex."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from reports_browser import Browser, find_browser
from reports_fixtures import artifact_dir, markdown_rows, quickstart_like_config, run

from ropg.benchmark.tables import METRIC_LABELS, format_value
from ropg.reports import collect_run_report, section_markdown, write_run_reports
from ropg.reports.intervals import bootstrap_interval

NO_BROWSER = (
    "no Chromium found: install Debian's chromium (apt-get install -y chromium; .ci/run does)"
)
NO_TEX = (
    "no pdflatex found: install texlive-latex-base and texlive-latex-recommended (.ci/run does)"
)


@pytest.fixture(scope="session")
def report_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A finished run and the report files written into it."""
    run_dir = run(quickstart_like_config(tmp_path_factory.mktemp("report-run")))
    return run_dir, write_run_reports(run_dir, collect_run_report(run_dir))


def read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_the_collected_table3_is_byte_identical_to_table3_md(report_run) -> None:
    run_dir, files = report_run
    assert files == ["report.html", "table3.tex", "selectors.tex"]
    report = collect_run_report(run_dir)
    assert section_markdown(report.section("table3")) == (run_dir / "table3.md").read_text("utf-8")


def test_selector_grids_hold_the_numbers_of_selectors_md(report_run) -> None:
    run_dir, _ = report_run
    report = collect_run_report(run_dir)
    grids = [block for block in report.section("selectors").blocks if hasattr(block, "columns")]
    shown = [
        [label, *(format_value(values.get(key)) for key, _ in grid.columns)]
        for grid in grids
        for label, values in grid.rows
    ]
    expected = [
        [c.strip("*") for c in row]
        for row in markdown_rows(run_dir.joinpath("selectors.md").read_text("utf-8"))
    ]
    assert shown == expected


def test_intervals_are_seeded_bootstrap_intervals_of_the_stored_examples(report_run) -> None:
    run_dir, _ = report_run
    charts = [
        block
        for block in collect_run_report(run_dir).section("intervals").blocks
        if hasattr(block, "panels")
    ]
    assert [chart.title for chart in charts] == ["LaMP-2", "LaMP-3"]
    scores = read_json(run_dir / "scores" / "reader" / "LaMP-3" / "bm25.json")
    panel = next(p for p in charts[1].panels if p.metric == "MAE")
    interval = next(i for i in panel.intervals if i.label == "BM25")
    values = scores["per_example"]["MAE"]
    assert interval.value == scores["metrics"]["MAE"] and interval.count == len(values)
    assert (interval.low, interval.high) == bootstrap_interval(values, seed=0)
    assert min(values) <= interval.low <= sum(values) / len(values) <= interval.high <= max(values)
    assert panel.lower_is_better and "rating points" in panel.axis_label


PAGE_TABLES = """JSON.stringify(Array.from(document.querySelectorAll('table.results')).map(t => ({
  title: t.closest('.results-block').querySelector('h3').textContent,
  headers: Array.from(t.tHead.rows[0].cells).map(c => c.textContent),
  rows: Array.from(t.tBodies[0].rows).map(r => ({
    task: r.dataset.task, metric: r.dataset.metric,
    cells: Array.from(r.querySelectorAll('td.num')).map(c => ({
      method: c.dataset.method, text: c.querySelector('.v').textContent,
      bold: getComputedStyle(c.querySelector('.v')).fontWeight,
      marks: c.querySelector('sup') ? c.querySelector('sup').textContent : ''}))}))})))"""

COLUMN = """(function (index) {
  var t = document.querySelector('table.results');
  return Array.from(t.tBodies[0].rows).map(r => r.cells[index].getAttribute('data-value'));
})"""


def test_report_html_in_a_real_browser(report_run) -> None:
    browser_path = find_browser()
    if browser_path is None:
        pytest.skip(NO_BROWSER)
    run_dir, _ = report_run
    metrics = read_json(run_dir / "metrics.json")["metrics"]["reader"]
    table3 = markdown_rows((run_dir / "table3.md").read_text(encoding="utf-8"))
    page = run_dir / "report.html"
    with Browser(browser_path, width=1280, height=900) as browser:
        browser.open(page.resolve().as_uri())
        assert browser.problems() == []
        assert browser.requests() == [page.resolve().as_uri()]  # nothing else is loaded
        tables = json.loads(browser.evaluate(PAGE_TABLES))
        assert len(tables) == 1 and tables[0]["title"].startswith("Retrieval-only reader")
        markdown_of_page = []
        for row in tables[0]["rows"]:
            cells = []
            for cell in row["cells"]:
                value = metrics[row["task"]].get(cell["method"], {}).get(row["metric"])
                assert cell["text"] == format_value(value)  # the numbers of metrics.json
                text = f"**{cell['text']}**" if int(cell["bold"]) >= 700 else cell["text"]
                cells.append(text + (f"<sup>{cell['marks']}</sup>" if cell["marks"] else ""))
            markdown_of_page.append([row["task"], METRIC_LABELS[row["metric"]], *cells])
        assert markdown_of_page == table3  # bold and markers as in table3.md
        assert any("<sup>" in cell for row in table3 for cell in row)  # markers were checked

        column = tables[0]["headers"].index("BM25")
        original = browser.evaluate(f"{COLUMN}({column})")
        clicks = []
        for _ in range(3):  # descending, ascending, back to the table's order
            browser.evaluate(
                f"document.querySelector('table.results').tHead.rows[0].cells[{column}].click()"
            )
            clicks.append(browser.evaluate(f"{COLUMN}({column})"))
        numbers = [float(v) for v in original]
        assert [float(v) for v in clicks[0]] == sorted(numbers, reverse=True)
        assert [float(v) for v in clicks[1]] == sorted(numbers)
        assert clicks[2] == original

        figures = browser.evaluate(
            "Array.from(document.querySelectorAll('figure.chart')).map(f => "
            "[f.querySelector('figcaption b').textContent, f.querySelector('svg').textContent])"
        )
        titles = [title for title, _ in figures]
        assert titles[:2] == ["LaMP-2", "LaMP-3"]  # intervals, then per task oracle + winning
        assert "LaMP-2: selected retriever vs. oracle bounds" in titles
        assert "LaMP-3: winning rate per retriever" in titles
        axis_text = dict(figures)
        assert "accuracy" in axis_text["LaMP-2"] and "MAE" in axis_text["LaMP-3"]
        assert "winning rate (%" in axis_text["LaMP-3: winning rate per retriever"]
        assert browser.evaluate("document.querySelector('details#config').open") is False
        assert browser.evaluate("document.querySelector('details#fingerprints').open") is False
        assert browser.problems() == []
        shot = browser.screenshot(artifact_dir() / "report.png")
    assert shot.stat().st_size > 50_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def tex_rows(tex: str) -> list[list[str]]:
    """The body rows of the LaTeX tables, in the Markdown cell notation of table3.md."""
    rows, task = [], ""
    for line in tex.splitlines():
        if not line.endswith(r"\\") or line.startswith("Task &"):
            continue
        cells = [cell.strip() for cell in line[:-2].split(" & ")]
        task = cells[0] or task
        converted = []
        for cell in cells[2:]:
            cell = re.sub(r"\\textbf\{(.*?)\}", r"**\1**", cell)
            cell = re.sub(r"\\textsuperscript\{(.*?)\}", r"<sup>\1</sup>", cell)
            converted.append("–" if cell == "--" else cell)
        rows.append([task, cells[1], *converted])
    return rows


def test_table3_tex_has_table3_md_numbers_and_compiles(report_run, tmp_path: Path) -> None:
    run_dir, _ = report_run
    tex = (run_dir / "table3.tex").read_text(encoding="utf-8")
    assert r"\toprule" in tex and r"\bottomrule" in tex and "RSPG-Pre" in tex
    assert tex_rows(tex) == markdown_rows((run_dir / "table3.md").read_text(encoding="utf-8"))
    assert r"$\sigma$max" in (run_dir / "selectors.tex").read_text(encoding="utf-8")
    pdflatex = shutil.which("pdflatex")
    if pdflatex is None:
        pytest.skip(NO_TEX)
    for name in ("table3.tex", "selectors.tex"):
        shutil.copy(run_dir / name, tmp_path / name)
    (tmp_path / "paper.tex").write_text(
        "\\documentclass{article}\n\\usepackage[T1]{fontenc}\n\\usepackage{booktabs}\n"
        "\\begin{document}\n\\input{table3.tex}\n\\input{selectors.tex}\n\\end{document}\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        [pdflatex, "-interaction=nonstopmode", "-halt-on-error", "paper.tex"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert (tmp_path / "paper.pdf").stat().st_size > 1000
    assert "multiply defined" not in result.stdout
