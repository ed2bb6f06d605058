"""Chart blocks as inline SVG, drawn with matplotlib (Agg, no display, no network).

Text stays text in the SVG (``svg.fonttype = none``: small files, selectable labels) and the
output is deterministic (no date, ids salted per chart), so the same report data always gives
the same ``report.html``.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ropg.benchmark.tables import format_value
from ropg.reports.model import BarChart, IntervalChart

BASE_COLOUR = "#7f93b2"
HIGHLIGHT_COLOUR = "#d9822b"
LINE_COLOURS = ("#2f7d4f", "#b23a48", "#6a4c93")
BAR_CHART_WIDTH = 5.4  # inches: every chart as wide, so that fonts match side by side
INTERVAL_CHART_WIDTH = 5.4
STYLE = {
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Helvetica", "Arial"],
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#888888",
    "axes.labelcolor": "#333333",
    "xtick.color": "#444444",
    "ytick.color": "#444444",
    "axes.grid": True,
    "grid.color": "#e4e4e4",
    "grid.linewidth": 0.6,
    "axes.axisbelow": True,
}


@contextmanager
def _figure(width: float, height: float, salt: str, rows: int = 1) -> Iterator[Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with matplotlib.rc_context({**STYLE, "svg.hashsalt": salt}):
        figure, axes = plt.subplots(rows, 1, figsize=(width, height), squeeze=False)
        try:
            yield figure, [row[0] for row in axes]
        finally:
            plt.close(figure)


def _svg(figure: Any) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg") :].strip()


def _finite(value: float | None) -> bool:
    return value is not None and not math.isnan(value)


def interval_svg(chart: IntervalChart, salt: str) -> str:
    """One panel per metric, stacked: a dot per method at its value, a line for its CI."""
    count = max(len(panel.intervals) for panel in chart.panels)
    height = (0.3 * count + 0.8) * len(chart.panels) + 0.1
    with _figure(INTERVAL_CHART_WIDTH, height, salt, len(chart.panels)) as (figure, axes):
        for axis, panel in zip(axes, chart.panels):
            shown = [i for i in panel.intervals if _finite(i.value)]
            positions = range(len(shown))
            for y, interval in zip(positions, shown):
                colour = HIGHLIGHT_COLOUR if interval.highlight else BASE_COLOUR
                if _finite(interval.low) and _finite(interval.high):
                    axis.plot(
                        [interval.low, interval.high], [y, y], color=colour, lw=3, alpha=0.45,
                        solid_capstyle="butt",
                    )  # fmt: skip
                    for end in (interval.low, interval.high):
                        axis.plot([end, end], [y - 0.18, y + 0.18], color=colour, lw=1.2)
                axis.plot([interval.value], [y], "o", color=colour, ms=7.5, mec="white", mew=1)
            axis.set_yticks(list(positions), [i.label for i in shown])
            axis.set_ylim(len(shown) - 0.5, -0.5)
            axis.set_xlabel(panel.axis_label)
            axis.grid(axis="y", visible=False)
            axis.tick_params(axis="y", length=0)
            lows = [i.low if _finite(i.low) else i.value for i in shown]
            if lows and min(lows) >= 0 and axis.get_xlim()[0] < 0:
                axis.set_xlim(left=0)  # a metric that cannot be negative
        figure.tight_layout()
        return _svg(figure)


def bar_svg(chart: BarChart, salt: str) -> str:
    """Vertical bars with their values; reference lines dashed and in the legend."""
    scale = 100.0 if chart.percent else 1.0
    labels = [label for label, _ in chart.bars]
    values = [scale * v if _finite(v) else 0.0 for _, v in chart.bars]
    with _figure(BAR_CHART_WIDTH, 3.0, salt) as (figure, axes):
        axis = axes[0]
        colours = [HIGHLIGHT_COLOUR if lab in chart.highlight else BASE_COLOUR for lab in labels]
        bars = axis.bar(labels, values, color=colours, width=0.68)
        texts = [
            ("–" if not _finite(v) else (f"{scale * v:.1f}%" if chart.percent else format_value(v)))
            for _, v in chart.bars
        ]
        axis.bar_label(bars, labels=texts, fontsize=7.5, padding=2, color="#333333")
        top = max([*values, *(scale * v for _, v in chart.reference_lines), 1e-9])
        axis.set_ylim(0, top * 1.22)
        for (name, value), colour in zip(chart.reference_lines, LINE_COLOURS):
            axis.axhline(scale * value, color=colour, ls="--", lw=1.2, zorder=3)
            axis.annotate(
                f"{name} {format_value(value)}", (1.0, scale * value),
                xycoords=("axes fraction", "data"), xytext=(3, 0), textcoords="offset points",
                va="center", ha="left", fontsize=7.5, color=colour,
            )  # fmt: skip
        axis.set_ylabel(chart.axis_label)
        axis.grid(axis="x", visible=False)
        axis.tick_params(axis="x", labelrotation=30, length=0)
        for text in axis.get_xticklabels():
            text.set_horizontalalignment("right")
        figure.tight_layout()
        return _svg(figure)


CHART_SVG: dict[type, Callable[[Any, str], str]] = {IntervalChart: interval_svg, BarChart: bar_svg}


def chart_svg(chart: IntervalChart | BarChart, salt: str) -> str:
    """The inline SVG of a chart block (``salt`` keeps its element ids unique in a page)."""
    return CHART_SVG[type(chart)](chart, salt)
