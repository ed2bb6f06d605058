"""``rspg-train``: train an RSPG selector (Pre or Post) that picks a retriever per input.

    ropg-feedback pool --data DIR --task LaMP-3 --split train --retrievers none,recency,bm25 \\
        --llm SPEC --out pool-train.jsonl          # and --split dev --out pool-dev.jsonl
    rspg-train --mode post --config rspg.yaml --task LaMP-3 \\
        --train-feedback pool-train.jsonl --dev-feedback pool-dev.jsonl --output-dir runs/post
    rspg-train --config rspg.yaml --output-dir runs/post --resume          # after a crash
    rspg-train --analyze-only --task LaMP-3 --train-feedback pool-train.jsonl \\
        --dev-feedback pool-dev.jsonl --output-dir runs/baselines   # baselines, no training

Every setting of :class:`~ropg.selection.config.SelectorConfig` is a flag (``--key value``,
``--key-name`` or ``--key_name``) that overrides the YAML file; ``--print-config`` shows the
resolved settings and exits. Written to ``--output-dir``: the selector (load it with
``ropg.selection.load_selector``), ``train_config.yaml``, ``metrics.json`` (per-epoch dev
success rate and official metrics of the selected outputs), and the report on the dev records:
``analysis.md`` (success rate and metrics of every selector, oracle bounds), ``analysis.json``
and ``winning_rates.png``. ``--analyze-only`` writes only the report, for the untrained
selectors (QPP, best single, random, oracle).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ropg.cli.common import user_errors_exit_2
from ropg.cli.config_flags import build_config_parser, parse_config

if TYPE_CHECKING:
    from ropg.selection.config import SelectorConfig

logger = logging.getLogger(__name__)
PROGRESS_LOGGERS = ("ropg.training", "ropg.selection")


def build_parser() -> argparse.ArgumentParser:
    """One flag per config field (defaults suppressed, so only given flags override)."""
    from ropg.selection.config import SelectorConfig

    parser = build_config_parser("rspg-train", __doc__.split("\n")[0], SelectorConfig)
    parser.add_argument(
        "--analyze-only",
        action="store_true",
        help="no training: write the report of the untrained selectors (mode not needed)",
    )
    return parser


def _analyze(config: SelectorConfig) -> int:
    """``--analyze-only``: the report of the untrained selectors, printed and written."""
    from pathlib import Path

    from ropg.selection.records import load_train_dev_records
    from ropg.selection.report import write_report
    from ropg.training.checkpoints import check_run_dir

    check_run_dir(Path(config.output_dir), bool(config.overwrite))
    train, dev = load_train_dev_records(config)
    report = write_report(
        config.output_dir, train, dev or train, task=config.task, sigma_x=config.sigma_x,
        seed=config.seed,
    )  # fmt: skip
    _print_report(report)
    return 0


def _print_report(report: dict) -> None:
    sys.stdout.write(report["markdown"])
    print(f"report: {report['files']['markdown']}  winning rates: {report['png']}")


@user_errors_exit_2
def main(argv: Sequence[str] | None = None) -> int:
    from ropg.selection.config import SelectorConfig

    parser = build_parser()
    args = list(sys.argv[1:] if argv is None else argv)
    given, _ = parser.parse_known_args(args)  # argparse's reading (abbreviations included)
    if getattr(given, "analyze_only", False) and getattr(given, "mode", None) is None:
        args += ["--mode", "post"]  # the report does not depend on the mode
    config, printed, extra = parse_config(parser, args, SelectorConfig, PROGRESS_LOGGERS)
    if printed:
        return 0
    if extra.get("analyze_only"):
        return _analyze(config)
    from ropg.selection.trainer import train_selector

    result = train_selector(config)
    if not result.main_process:
        return 0
    final = result.metrics.get("final", {})
    summary = {
        key: round(value, 4) if isinstance(value, float) else value
        for key, value in final.items()
        if key in ("epoch", "loss") or key.startswith("dev_")
    }
    print(f"{'trained' if result.completed else 'stopped'}: {result.output_dir} {summary}")
    report = result.metrics.get("report")
    if report:
        _print_report(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
