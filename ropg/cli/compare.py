"""``ropg compare RUN_A RUN_B`` (also ``ropg-compare``): two benchmark runs side by side.

Prints Markdown to stdout: the settings and fingerprints that differ, then per LLM, task,
method and metric both runs' values, the difference B - A and the paired test's p-value on
the per-example scores (when both runs scored the same examples; otherwise the plain
difference, and the row says so). ``--html PATH`` also writes the comparison as a
self-contained page like ``report.html``. A missing or foreign run directory exits with code 2
and one line.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from ropg.cli.common import add_logging_flags, setup_logging, user_errors_exit_2
from ropg.utils.io import check_replaceable

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ropg compare",
        description="Compare two benchmark runs: metrics with paired significance tests, "
        "and what differs between their configs and fingerprints.",
    )
    parser.add_argument("run_a", metavar="RUN_A", help="run directory A (results/<name>)")
    parser.add_argument("run_b", metavar="RUN_B", help="run directory B")
    parser.add_argument("--html", metavar="PATH", help="also write the comparison as HTML")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace an --html file that is not ropg's"
    )
    add_logging_flags(parser)
    return parser


def is_ropg_page(path: Path) -> bool:
    """Whether ``path`` is an HTML page ropg wrote (its generator meta tag near the top)."""
    try:
        with path.open("rb") as stream:
            head = stream.read(4096)
    except OSError:
        return False
    return head.startswith(b"<!DOCTYPE html>") and b'<meta name="generator" content="ropg' in head


@user_errors_exit_2
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose, args.quiet)
    from ropg.reports import compare_runs, report_markdown, write_html_report

    if args.html:
        check_replaceable(args.html, recognise=is_ropg_page, what="report page",
                          overwrite=args.overwrite)  # fmt: skip
    report = compare_runs(args.run_a, args.run_b)
    sys.stdout.write(report_markdown(report))
    if args.html:
        path = write_html_report(args.html, report)
        logger.info("wrote %s", path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
