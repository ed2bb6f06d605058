"""LaMP benchmark runs: ``benchmarks/run_all.py`` composes the run's method families (by
default the pool baselines, ROPG training and RSPG selection) for LaMP-1..7 and writes the
paper-style tables; a new method is a family (:mod:`ropg.benchmark.family`).

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
from pathlib import Path
from typing import Any

from ropg.benchmark.config import BenchmarkConfig

__all__ = ["BenchmarkConfig", "check_run_directory", "run_benchmark", "select_stages"]

RUN_CONFIG_KEYS = frozenset({"llms", "retrievers", "output_root"})


def check_run_directory(run_dir: Path) -> None:
    """``run_dir`` must be new, empty or a benchmark run (``state/``, or a ``config.yaml`` a
    run wrote): a run never writes into someone else's directory (``name=`` that happens to
    name an existing folder)."""
    from ropg.errors import UserError
    from ropg.utils.io import check_output_dir, directory_entries

    check_output_dir(run_dir)
    names = directory_entries(run_dir)
    if not names or (run_dir / "state").is_dir():
        return
    saved = run_dir / "config.yaml"
    if saved.is_file():
        import yaml

        try:
            values = yaml.safe_load(saved.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            values = None
        if isinstance(values, dict) and RUN_CONFIG_KEYS <= set(values):
            return
    shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
    raise UserError(
        f"{run_dir} is not empty and is not a benchmark run (it holds {shown}); refusing to "
        "write into it: choose another name= or output_root="
    )


def select_stages(config: BenchmarkConfig, names: Sequence[str] | None = None) -> list[str] | None:
    """The names of the stages to run (``names``, or ``config.stages``; None: all), checked."""
    from ropg.benchmark.stages import all_stages
    from ropg.errors import UserError

    chosen = list(names) if names else config.stages
    if not chosen:
        return None
    known = [stage.name for stage in all_stages(config.family_list())]
    unknown = [name for name in chosen if name not in known]
    if unknown:
        raise UserError(f"unknown stage(s) {unknown}; stages: {', '.join(known)}")
    return chosen


def run_benchmark(
    config: BenchmarkConfig, stages: Sequence[str] | None = None, show_progress: bool = True
) -> list[Any]:
    """Run (or resume) a benchmark; returns one report per stage run (units run / skipped)."""
    from ropg.benchmark.context import RunContext
    from ropg.benchmark.runner import run_stages
    from ropg.benchmark.stages import all_stages

    if config.offline:
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
    from ropg.utils.io import prepare_output_dir
    from ropg.utils.locks import directory_lock

    selected = select_stages(config, stages)
    ctx = RunContext(config, show_progress=show_progress)
    prepare_output_dir(ctx.run_dir)
    # one run at a time per run directory: a second run of the same name is refused
    with directory_lock(ctx.run_dir, wait=False, holder="another run is using this run name"):
        check_run_directory(ctx.run_dir)  # under the lock: what a running run writes is ours
        config.save(ctx.run_dir / "config.yaml")
        stages_of_run = all_stages(config.family_list())
        if config.jobs > 1:
            from ropg.benchmark.parallel import run_stages_parallel

            return run_stages_parallel(ctx, stages_of_run, selected, config.jobs, show_progress)
        return run_stages(ctx, stages_of_run, selected, show_progress=show_progress)
