"""``report.html``: one self-contained static page (CSS, script and SVG charts inline).

Nothing is fetched: no CDN, no fonts, no images from elsewhere, and a Content-Security-Policy
that forbids any request. Results tables show exactly the cells of ``table3.md`` (the shared
:func:`ropg.benchmark.tables.shown_row` decides value text, bold and markers); every table is
sortable by a click on a column header.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Iterator
from typing import Any

from ropg.benchmark.tables import METRIC_LABELS, format_value, grid_best, results_legend, shown_row
from ropg.reports.assets import CSS, SORT_SCRIPT
from ropg.reports.charts import chart_svg
from ropg.reports.markup import inline_html, markdown_html
from ropg.reports.model import (
    BarChart,
    Block,
    GridBlock,
    IntervalChart,
    Report,
    ResultsBlock,
    Section,
    TableBlock,
    TextBlock,
)

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "img-src data:; font-src data:"
)
CHART_TYPES = (IntervalChart, BarChart)


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _number_attr(value: float | None) -> str:
    return "" if value is None else f' data-value="{value!r}"'


def results_html(block: ResultsBlock) -> str:
    """A results table: the cells of ``table3.md`` (value, bold best, superscript markers)."""
    table = block.table
    head = "".join(f'<th scope="col">{_e(label)}</th>' for _, label in table.columns)
    rows = []
    for row in table.rows:
        cells = []
        for (name, _), shown in zip(table.columns, shown_row(table, row)):
            tag = "strong" if shown.best else "span"
            marks = f"<sup>{_e(shown.marks)}</sup>" if shown.marks else ""
            css = "num best" if shown.best else "num"
            cells.append(
                f'<td class="{css}" data-method="{_e(name)}"{_number_attr(shown.value)}>'
                f'<{tag} class="v">{_e(shown.text)}</{tag}>{marks}</td>'
            )
        metric = METRIC_LABELS.get(row.metric, row.metric)
        rows.append(
            f'<tr data-task="{_e(row.task)}" data-metric="{_e(row.metric)}">'
            f'<th scope="row">{_e(row.task)}</th><td>{_e(metric)}</td>{"".join(cells)}</tr>'
        )
    note = f'<p class="note">{inline_html(table.note)}</p>' if table.note else ""
    return (
        f'<div class="block results-block"><h3>{inline_html(table.title)}</h3>'
        '<div class="table-wrap"><table class="results sortable">'
        f'<thead><tr><th scope="col">Task</th><th scope="col">Metric</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
        f'<p class="legend">{_e(results_legend(table))}</p>{note}</div>'
    )


def _heat_style(value: float | None, low: float, high: float) -> str:
    if value is None:
        return ""
    import matplotlib

    share = 0.5 if high <= low else (value - low) / (high - low)
    red, green, blue, _ = matplotlib.colormaps["Blues"](0.12 + 0.78 * share)
    luminance = 0.2126 * red + 0.7152 * green + 0.0722 * blue
    colour = "#ffffff" if luminance < 0.55 else "#1f2328"
    background = f"#{int(red * 255):02x}{int(green * 255):02x}{int(blue * 255):02x}"
    return f' style="background:{background};color:{colour}"'


def grid_html(block: GridBlock) -> str:
    """A grid of numbers (row maximum in bold unless ``bold_max`` is off); a heatmap shades
    every cell by its value."""
    values = [v for _, row in block.rows for k, _ in block.columns if (v := row.get(k)) is not None]
    low, high = (min(values), max(values)) if values else (0.0, 0.0)
    head = "".join(f'<th scope="col">{_e(label)}</th>' for _, label in block.columns)
    rows = []
    for label, row in block.rows:
        best = grid_best(block.columns, row, block.bold_max)
        cells = []
        for key, _ in block.columns:
            value = row.get(key)
            tag = "strong" if key in best else "span"
            style = _heat_style(value, low, high) if block.heatmap else ""
            css = "num best" if key in best else "num"
            cells.append(
                f'<td class="{css}" data-key="{_e(key)}"{_number_attr(value)}{style}>'
                f'<{tag} class="v">{_e(format_value(value))}</{tag}></td>'
            )
        rows.append(f'<tr><th scope="row">{_e(label)}</th>{"".join(cells)}</tr>')
    kind = "grid heatmap sortable" if block.heatmap else "grid sortable"
    notes = []
    if block.heatmap and values:
        what = f"{block.value_label}: " if block.value_label else ""
        notes.append(f"{what}darker = higher ({format_value(low)} to {format_value(high)}).")
    if block.note:
        notes.append(block.note)
    note = "".join(f'<p class="note">{inline_html(n)}</p>' for n in notes)
    return (
        f'<div class="block grid-block"><h4>{inline_html(block.title)}</h4>'
        f'<div class="table-wrap"><table class="{kind}"><thead><tr>'
        f'<th scope="col">{_e(block.corner)}</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>{note}</div>"
    )


def _text_cell(text: str) -> str:
    try:
        number = float(text.rstrip("%").lstrip("<").replace("−", "-"))
    except ValueError:
        return f"<td>{_e(text)}</td>"
    return f'<td class="num" data-value="{number!r}">{_e(text)}</td>'


def table_html(block: TableBlock) -> str:
    """A table of formatted text; numeric cells right-aligned and sorted as numbers."""
    head = "".join(f'<th scope="col">{_e(h)}</th>' for h in block.headers)
    rows = []
    for row in block.rows:
        first, rest = (row[0], row[1:]) if row else ("", [])
        rows.append(f'<tr><th scope="row">{_e(first)}</th>{"".join(map(_text_cell, rest))}</tr>')
    title = f"<h4>{inline_html(block.title)}</h4>" if block.title else ""
    note = f'<p class="note">{inline_html(block.note)}</p>' if block.note else ""
    return (
        f'<div class="block table-block">{title}<div class="table-wrap">'
        f'<table class="plain sortable"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>{note}</div>"
    )


def _interval_values(chart: IntervalChart) -> str:
    rows = []
    for panel in chart.panels:
        for interval in panel.intervals:
            ci = (
                "–"
                if interval.low is None or interval.high is None
                else f"[{format_value(interval.low)}, {format_value(interval.high)}]"
            )
            rows.append(
                [
                    interval.label,
                    METRIC_LABELS.get(panel.metric, panel.metric),
                    format_value(interval.value),
                    ci,
                    str(interval.count),
                ]
            )
    table = TableBlock("", ["Method", "Metric", "Value", "95% CI", "n"], rows)
    return f"<details><summary>Values</summary>{table_html(table)}</details>"


def chart_html(block: IntervalChart | BarChart, salt: str) -> str:
    """A chart as an inline SVG figure with its caption (and, for intervals, the values)."""
    values = _interval_values(block) if isinstance(block, IntervalChart) else ""
    note = f"<br>{inline_html(block.note)}" if block.note else ""
    return (
        f'<figure class="chart"><figcaption><b>{inline_html(block.title)}</b>{note}</figcaption>'
        f"{chart_svg(block, salt)}{values}</figure>"
    )


def text_html(block: TextBlock) -> str:
    return markdown_html(block.text)


BLOCK_HTML: dict[type, Callable[[Any], str]] = {
    ResultsBlock: results_html,
    GridBlock: grid_html,
    TableBlock: table_html,
    TextBlock: text_html,
}


def _layout(block: Block) -> str:
    """How a block is laid out with its neighbours: ``charts`` in a grid, small ``grids`` side
    by side, anything else on its own."""
    if isinstance(block, CHART_TYPES):
        return "charts"
    if isinstance(block, GridBlock) and not block.heatmap:
        return "grids"
    return ""


def _groups(blocks: list[Block]) -> Iterator[tuple[str, list[Block]]]:
    """Consecutive blocks of the same layout together (a block without one on its own)."""
    group: list[Block] = []
    for block in blocks:
        if group and (_layout(block) != _layout(group[0]) or not _layout(block)):
            yield _layout(group[0]), group
            group = []
        group.append(block)
    if group:
        yield _layout(group[0]), group


def section_html(section: Section, salt: str = "") -> str:
    """One ``<section>``: title, intro and blocks."""
    parts = [f"<h2>{inline_html(section.title)}</h2>"]
    if section.intro:
        parts.append(f'<p class="intro">{inline_html(section.intro)}</p>')
    count = 0
    for layout, blocks in _groups(section.blocks):
        if layout == "charts":
            figures = []
            for block in blocks:
                count += 1
                figures.append(chart_html(block, f"{salt}{section.name}-{count}"))  # type: ignore[arg-type]
            parts.append(f'<div class="charts">{"".join(figures)}</div>')
            continue
        html_blocks = "".join(BLOCK_HTML[type(block)](block) for block in blocks)
        parts.append(f'<div class="grids">{html_blocks}</div>' if layout else html_blocks)
    return f'<section class="card" id="{_e(section.name)}">{"".join(parts)}</section>'


def _metadata_html(report: Report) -> str:
    import yaml

    parts = []
    if report.config:
        text = yaml.safe_dump(dict(report.config), sort_keys=False, allow_unicode=True)
        parts.append(
            '<details class="meta" id="config"><summary>Run configuration (config.yaml)'
            f"</summary><pre>{_e(text)}</pre></details>"
        )
    if report.fingerprints:
        text = json.dumps(report.fingerprints, indent=1, ensure_ascii=False)
        parts.append(
            '<details class="meta" id="fingerprints"><summary>Fingerprints (data digests, '
            f"model identities, code, library versions)</summary><pre>{_e(text)}</pre></details>"
        )
    if not parts:
        return ""
    return (
        '<section class="card" id="run"><h2>Run</h2><p class="intro">What produced these '
        f"numbers (click to open).</p>{''.join(parts)}</section>"
    )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ropg")
    except PackageNotFoundError:
        return "(not installed)"


def render_html(report: Report) -> str:
    """The whole report as one self-contained HTML page."""
    __version__ = _version()
    facts = "".join(f"<li><b>{_e(k)}</b>{_e(v)}</li>" for k, v in report.summary)
    links = [(section.name, section.title) for section in report.sections]
    if report.config or report.fingerprints:
        links.append(("run", "Run configuration and fingerprints"))
    toc = "".join(f'<a href="#{_e(name)}">{inline_html(title)}</a>' for name, title in links)
    body = "".join(section_html(section) for section in report.sections)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="ropg {_e(__version__)}">'
        f"<title>{_e(report.title)}</title><style>{CSS}</style></head><body>"
        f'<header class="top"><div class="wrap"><h1>{inline_html(report.title)}</h1>'
        f'<ul class="facts">{facts}</ul></div></header>'
        f'<nav class="toc"><div class="wrap">{toc}</div></nav>'
        f'<main class="wrap">{body}{_metadata_html(report)}</main>'
        f'<footer class="wrap">Written by ropg {_e(__version__)}. A self-contained page: '
        "it loads nothing from anywhere.</footer>"
        f"<script>{SORT_SCRIPT}</script></body></html>\n"
    )
