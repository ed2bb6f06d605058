"""``selectors.md``: RSPG's success rates (and the QPP baselines'), oracle bounds, charts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ropg.benchmark.config import LLMEntry
from ropg.benchmark.context import RunContext
from ropg.benchmark.tables import render_grid
from ropg.utils.io import atomic_open

SELECTORS_FILE = "selectors.md"
QPP_LABELS = {"wig": "WIG", "nqc": "NQC", "sigma_max": "σmax", "sigma_x": "σx%", "random": "Random"}


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def selector_tables(ctx: RunContext, family: Any, llm: LLMEntry) -> str:
    """Success rates (RSPG and QPP), oracle bounds and winning-rate charts of one LLM."""
    from ropg.benchmark.families.rspg import ANALYSIS, mode_name

    config, section = ctx.config, family.settings
    if family.name not in llm.methods:
        return ""
    success_rows, oracle_rows, charts = [], [], []
    oracle_keys: list[str] = []
    for task in config.tasks:
        rates: dict[str, float | None] = {}
        for mode in section.modes:
            selection = _read_json(ctx.selection_path(llm.name, task, mode_name(mode)))
            rates[mode_name(mode)] = None if selection is None else selection["success_rate"]
        analysis = _read_json(ctx.selection_path(llm.name, task, ANALYSIS)) or {}
        rates.update(analysis.get("qpp_success_rates", {}))
        success_rows.append((task, rates))
        oracle = analysis.get("oracle", {})
        oracle_keys += [key for key in oracle if key not in oracle_keys]
        oracle_rows.append((task, oracle))
        if analysis.get("chart"):
            charts.append(f"- {task}: [{analysis['chart']}]({analysis['chart']})")
    columns = [(mode_name(m), section.labels.get(m, mode_name(m))) for m in section.modes]
    columns += [(name, QPP_LABELS.get(name, name)) for name in section.qpp]
    parts = [
        f"## {llm.label}" + (" (smoke run)" if llm.smoke else ""),
        "",
        render_grid(
            "Selector success rate (share of inputs where the chosen retriever is among the best)",
            columns,
            success_rows,
        ),
        render_grid(
            "Oracle bounds (best / worst retriever per input)",
            [(key, key) for key in oracle_keys],
            oracle_rows,
            bold_max=False,
        ),
    ]
    if charts:
        parts += ["### Winning rates", "", *charts, ""]
    return "\n".join(parts)


def write_selectors(ctx: RunContext, family: Any) -> str:
    """Write ``selectors.md``; returns its file name."""
    parts = [selector_tables(ctx, family, llm) for llm in ctx.config.llms]
    selectors = "\n".join(part for part in parts if part)
    with atomic_open(ctx.run_dir / SELECTORS_FILE) as stream:
        stream.write(f"# {ctx.config.name}: RSPG selectors\n\n" + (selectors or "No RSPG run.\n"))
    return SELECTORS_FILE


TABLE5_FILE = "table5.md"


def table5_tables(ctx: RunContext, family: Any) -> list[Any]:
    """Per LLM, RSPG-Pre/Post without and with the ROPG retrievers in their pool (markers:
    significantly better than the column without), then the oracle lower and upper bounds,
    every metric (``ResultTable`` objects; none without ``rspg.table5``)."""
    from ropg.benchmark.stages.report import results_table

    config = ctx.config
    if not family.settings.table5:
        return []
    tables = []
    for llm in config.llms:
        if not family.runs(config, llm):
            continue
        methods = {method.name: method for method in family.methods(config, llm)}
        order = []
        for mode in family.settings.modes:
            order += [methods[f"rspg-{mode}-noropg"], methods[f"rspg-{mode}"]]
        table, _, _ = results_table(ctx, llm, order, f"{llm.label}: RSPG w/o and w/ ROPG")
        oracle = [method for method in methods.values() if method.table == "table5-oracle"]
        bounds, _, _ = results_table(ctx, llm, oracle, f"{llm.label}: oracle bounds")
        tables += [table, bounds]
    return tables


def write_table5(ctx: RunContext, family: Any) -> str | None:
    """``table5.md`` (with ``rspg.table5``); returns its file name."""
    from ropg.benchmark.tables import render_results

    tables = table5_tables(ctx, family)
    if not tables:
        return None
    title = f"# {ctx.config.name}: RSPG with and without the ROPG retrievers (Table 5)\n\n"
    with atomic_open(ctx.run_dir / TABLE5_FILE) as stream:
        stream.write(title + "\n".join(render_results(table) for table in tables))
    return TABLE5_FILE


def table5_section(ctx: RunContext, family: Any) -> Any:
    """Table 5 as a section of ``report.html`` / ``table5.tex`` (None without it)."""
    from ropg.reports import ResultsBlock, Section

    tables = table5_tables(ctx, family)
    if not tables:
        return None
    return Section(
        "table5", "RSPG with and without the ROPG retrievers; oracle bounds (Table 5)",
        [ResultsBlock(table) for table in tables],
    )  # fmt: skip
