"""``python benchmarks/run_all.py --config CONFIG.yaml [KEY=VALUE ...]``: a whole LaMP benchmark.

Runs (or resumes) rank -> generate -> evaluate -> ROPG -> RSPG -> report and prints the
results table; outputs go to ``results/<run-name>/`` (see :mod:`ropg.benchmark.context`).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Sequence

from ropg.cli.common import add_logging_flags, setup_logging, user_errors_exit_2

logger = logging.getLogger(__name__)

# glibc malloc churn costs torch on CPU up to half its speed: 1.1-2.3x faster with these
# (docs/lamp-fidelity.md: Performance notes)
MALLOC_TUNABLES = "glibc.malloc.mmap_threshold=4294967296:glibc.malloc.trim_threshold=4294967296"
# OpenMP threads that spin while waiting take the cores other work needs: the quick start ran
# 1.7x faster with passive waiting on a 2-core machine with other load (docs/lamp-fidelity.md)
START_ENVIRONMENT = {"GLIBC_TUNABLES": MALLOC_TUNABLES, "OMP_WAIT_POLICY": "PASSIVE"}


def reexec_with_malloc_tunables() -> None:
    """Restart this Python process with :data:`START_ENVIRONMENT` (glibc and OpenMP read it
    only at start-up); a value the user set is kept.

    Does nothing off Linux, when every variable is already set, or with ``ROPG_NO_REEXEC``.
    """
    if not sys.platform.startswith("linux") or os.environ.get("ROPG_NO_REEXEC"):
        return
    missing = {key: value for key, value in START_ENVIRONMENT.items() if key not in os.environ}
    if not missing:
        return
    os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **missing})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Run the LaMP benchmark (ROPG/RSPG paper tables); re-runs skip finished work.",
    )
    parser.add_argument("--config", help="benchmark YAML (benchmarks/configs/*.yaml)")
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="KEY=VALUE",
        help="change settings by dotted path, e.g. limit=10 tasks=[LaMP-2] name=try1",
    )
    parser.add_argument("--stages", help="comma-separated stages to run (default: all)")
    parser.add_argument("--list-stages", action="store_true", help="list the stages and exit")
    parser.add_argument(
        "--print-config", action="store_true", help="print the resolved, checked config and exit"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_logging_flags(parser)
    return parser


@user_errors_exit_2
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_intermixed_args(argv)  # KEY=VALUE anywhere on the line
    if not args.verbose:  # our stage bars only; no per-model "Loading weights" bars
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    setup_logging(args.verbose, args.quiet)
    if not args.quiet:  # stage summaries always; library chatter only with -v
        logging.getLogger("ropg.benchmark").setLevel(logging.INFO)
    from ropg.benchmark import BenchmarkConfig, run_benchmark
    from ropg.benchmark.stages import all_stages
    from ropg.benchmark.stages.report import TABLE_FILE

    started = time.perf_counter()
    if args.list_stages:
        families = BenchmarkConfig.load(args.config, args.overrides).family_list() if (
            args.config) else default_families()  # fmt: skip
        for stage in all_stages(families):
            print(f"{stage.name:15} {stage.family or '':10} {stage.description}")
        return 0
    config = BenchmarkConfig.load(args.config, args.overrides)
    if args.print_config:
        import yaml

        yaml.safe_dump(config.to_dict(), sys.stdout, sort_keys=False, allow_unicode=True)
        return 0
    stages = [name.strip() for name in args.stages.split(",")] if args.stages else None
    reports = run_benchmark(config, stages, show_progress=not args.no_progress)
    elapsed = time.perf_counter() - started
    table = config.run_dir / TABLE_FILE
    if table.exists() and any(report.stage == "report" for report in reports):
        print(table.read_text(encoding="utf-8"))
    ran = sum(report.ran for report in reports)
    skipped = sum(report.skipped for report in reports)
    print(
        f"{config.run_dir}: {ran} unit(s) run, {skipped} already done, {elapsed:.1f}s",
        file=sys.stderr,
    )
    return 0


def default_families() -> list:
    """The default families (for ``--list-stages`` without a config)."""
    from ropg.benchmark.family import DEFAULT_FAMILIES, family_class

    return [family_class(name)() for name in DEFAULT_FAMILIES]


def console_main() -> int:
    """``ropg-benchmark`` and ``benchmarks/run_all.py``: :func:`main` with the malloc tunables."""
    reexec_with_malloc_tunables()  # faster torch on CPU; a no-op when already set
    return main()


if __name__ == "__main__":
    raise SystemExit(console_main())
