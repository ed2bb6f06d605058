"""LaMP benchmark runs: ``benchmarks/run_all.py`` composes ranking, generation, evaluation,
ROPG training and RSPG selection for LaMP-1..7 and writes the paper-style tables.

From Python::

    from ropg.benchmark import BenchmarkConfig, run_benchmark

    config = BenchmarkConfig.load("benchmarks/configs/quickstart.yaml", ["limit=20"])
    reports = run_benchmark(config)          # results/quickstart/table3.md, metrics.json, ...

Every stage writes done markers; a re-run (or a killed run started again) skips finished
work and gives the same tables (see :mod:`ropg.benchmark.runner`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from ropg.benchmark.config import BenchmarkConfig

__all__ = ["BenchmarkConfig", "run_benchmark", "select_stages"]


def select_stages(config: BenchmarkConfig, names: Sequence[str] | None = None) -> list[Any]:
    """The stages to run, in pipeline order: ``names`` (or ``config.stages``, or all)."""
    from ropg.benchmark.stages import STAGES
    from ropg.errors import UserError

    chosen = list(names) if names else config.stages
    if not chosen:
        return list(STAGES.values())
    unknown = [name for name in chosen if name not in STAGES]
    if unknown:
        raise UserError(f"unknown stage(s) {unknown}; stages: {', '.join(STAGES)}")
    return [stage for name, stage in STAGES.items() if name in chosen]


def run_benchmark(
    config: BenchmarkConfig, stages: Sequence[str] | None = None, show_progress: bool = True
) -> list[Any]:
    """Run (or resume) a benchmark; returns one report per stage (units run / skipped)."""
    from ropg.benchmark.context import RunContext
    from ropg.benchmark.runner import run_stages

    if config.offline:
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
    selected = select_stages(config, stages)
    ctx = RunContext(config, show_progress=show_progress)
    ctx.run_dir.mkdir(parents=True, exist_ok=True)
    config.save(ctx.run_dir / "config.yaml")
    return run_stages(ctx, selected, show_progress=show_progress)
