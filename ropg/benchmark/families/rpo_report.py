"""``rpo.md``: RPO's columns per task, and the retrieval x reflection grid with markers."""

from __future__ import annotations

import json
from typing import Any

from ropg.benchmark.context import RunContext
from ropg.benchmark.tables import METRIC_LABELS, format_value, significance_against
from ropg.lamp.metrics import LOWER_IS_BETTER
from ropg.utils.io import atomic_open

RPO_FILE = "rpo.md"


def _scores(ctx: RunContext, llm: str, task: str, method: str) -> dict[str, Any] | None:
    try:
        return json.loads(ctx.scores_path(llm, task, method).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def grid_values(
    ctx: RunContext, family: Any, llm: Any, task: str, metric: str
) -> tuple[list[str], dict[str, dict[str, float | None]], dict[str, set[str]]]:
    """``(rows, {row: {column: value}}, {row: columns significantly better than the row's
    no-reflection cell})`` of one task's grid on ``metric``."""
    from ropg.benchmark.families.rpo import COLUMNS, cell_name

    alpha = ctx.config.alpha
    rows = family.rows(ctx.config, llm)
    values: dict[str, dict[str, float | None]] = {}
    better: dict[str, set[str]] = {}
    for row in rows:
        scores = {c: _scores(ctx, llm.name, task, cell_name(row, c)) for c in COLUMNS}
        values[row] = {c: (s["metrics"].get(metric) if s else None) for c, s in scores.items()}
        better[row] = set()
        plain = scores["none"]
        for column in ("sft", "rl"):
            cell = scores[column]
            if cell is None or plain is None:
                continue
            tested = significance_against(metric, cell["per_example"], plain["per_example"], alpha)
            if tested is not None and tested[0]:
                better[row].add(column)
    return rows, values, better


def render_grid_markdown(
    task: str, metric: str, rows: list[str], values: dict, better: dict, alpha: float
) -> str:
    from ropg.benchmark.families.rpo import COLUMNS

    lower = metric in LOWER_IS_BETTER
    label = METRIC_LABELS.get(metric, metric)
    lines = [
        f"#### {task} ({label}{' ↓' if lower else ''}): retrieval × reflection",
        "",
        "| context | " + " | ".join(COLUMNS.values()) + " |",
        "|---|" + "---|" * len(COLUMNS),
    ]
    for row in rows:
        shown = {c: v for c, v in values[row].items() if v is not None}
        best = (min if lower else max)(shown.values()) if shown else None
        cells = []
        for column in COLUMNS:
            text = format_value(values[row][column])
            if best is not None and values[row][column] == best:
                text = f"**{text}**"
            cells.append(text + ("<sup>*</sup>" if column in better[row] else ""))
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"<sup>*</sup> significantly better than the row's no-reflection cell (p < {alpha:g}, "
        "the metric's paired test). Rows: where the items come from; columns: what rewrites.",
    ]
    return "\n".join(lines) + "\n"


def fallback_line(ctx: RunContext, family: Any, llm: Any, task: str) -> str:
    """How many reflections fell back to g, per grid row and reflection model (and why)."""
    from ropg.benchmark.families.rpo_steps import cell_jsonl

    grid = family.run_dir(ctx, llm.name, task) / "grid"
    parts = []
    for row in family.rows(ctx.config, llm):
        for column, label in (("sft", "SFT"), ("rl", "SFT+RL")):
            path = cell_jsonl(grid, row, column).with_suffix(".report.json")
            try:
                counts = json.loads(path.read_text(encoding="utf-8"))["fallbacks"]
            except (OSError, ValueError, KeyError):
                continue
            reasons = ", ".join(f"{k} {v}" for k, v in sorted(counts["by_reason"].items()))
            text = f"{row} {label} {counts['fallbacks']}/{counts['reflections']}"
            parts.append(text + (f" ({reasons})" if reasons else ""))
    if not parts:
        return ""
    return f"Reflections that fell back to g ({task}): " + "; ".join(parts) + ".\n"


def _main_table(ctx: RunContext, family: Any, llm: Any) -> Any:
    from ropg.benchmark.stages.report import results_table

    methods = [m for m in family.methods(ctx.config, llm) if m.table == "rpo"]
    table, _, _ = results_table(ctx, llm, methods, f"{llm.label}: RPO (base model: {llm.name})")
    return table


def write_rpo_md(ctx: RunContext, family: Any) -> str:
    """Write ``rpo.md``; returns its file name."""
    from ropg.benchmark.tables import render_results
    from ropg.lamp import get_task

    config = ctx.config
    parts = [f"# {config.name}: RPO reflection ({config.eval_split} split)\n"]
    for llm in config.llms:
        if not family.runs(config, llm):
            continue
        parts.append(render_results(_main_table(ctx, family, llm)))
        for task in family.settings.tasks or config.tasks:
            for metric in get_task(task).metric_keys:
                rows, values, better = grid_values(ctx, family, llm, task, metric)
                parts.append(render_grid_markdown(task, metric, rows, values, better, config.alpha))
            parts.append(fallback_line(ctx, family, llm, task))
    if len(parts) == 1:
        parts.append("No RPO run.\n")
    with atomic_open(ctx.run_dir / RPO_FILE) as stream:
        stream.write("\n".join(parts))
    return RPO_FILE


def rpo_section(ctx: RunContext, family: Any) -> Any:
    """RPO in ``report.html`` / ``rpo.tex``: the columns, and each task's grid as a heatmap."""
    from ropg.benchmark.families.rpo import COLUMNS
    from ropg.lamp import get_task
    from ropg.reports import GridBlock, ResultsBlock, Section

    config = ctx.config
    blocks: list[Any] = []
    for llm in config.llms:
        if not family.runs(config, llm):
            continue
        blocks.append(ResultsBlock(_main_table(ctx, family, llm)))
        for task in family.settings.tasks or config.tasks:
            metric = get_task(task).metric_keys[0]
            rows, values, _ = grid_values(ctx, family, llm, task, metric)
            label = METRIC_LABELS.get(metric, metric)
            blocks.append(
                GridBlock(
                    f"{llm.label}, {task}: {label} per context source and reflection",
                    list(COLUMNS.items()),
                    [(row, values[row]) for row in rows],
                    bold_max=metric not in LOWER_IS_BETTER,
                    heatmap=True,
                    corner="retrieval \\ reflection",
                    value_label=label,
                )  # fmt: skip
            )
    return Section("rpo", "RPO: retrieval × reflection", blocks)
