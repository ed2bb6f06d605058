"""``ropg-eval``: the official LaMP metrics for a predictions file.

Two forms:

- the reference's ``eval_task.py`` flags: ``--golds_json G --preds_json P --task_name LaMP_k
  --output_file OUT`` (writes the metrics JSON to OUT);
- ``ropg-eval --golds G --preds P [--task LaMP-k] [--aggregate mean|bootstrap]`` (prints them).

Bad input exits with code 2 and one line naming the file and the problem; no output is written.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from ropg.cli.common import add_logging_flags, setup_logging, user_errors_exit_2
from ropg.errors import DataError, UserError
from ropg.lamp.data import parse_outputs, read_json
from ropg.lamp.metrics import AGGREGATES
from ropg.lamp.tasks import Task, get_task
from ropg.utils.io import atomic_write_json


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ropg-eval", description="Official LaMP metrics of a predictions file."
    )
    parser.add_argument(
        "--golds",
        "--golds_json",
        dest="golds",
        required=True,
        help="gold outputs JSON ({'task', 'golds': [{id, output}]})",
    )
    parser.add_argument(
        "--preds",
        "--preds_json",
        dest="preds",
        required=True,
        help="predictions JSON in the same shape",
    )
    parser.add_argument(
        "--task",
        "--task_name",
        dest="task",
        default=None,
        help="LaMP-1..LaMP-7 or LaMP_k (default: the golds file's task)",
    )
    parser.add_argument(
        "--output_file",
        "--output",
        dest="output",
        default=None,
        help="write the metrics JSON here (atomically) instead of stdout",
    )
    parser.add_argument(
        "--aggregate",
        choices=AGGREGATES,
        default="mean",
        help="ROUGE aggregation: plain mean (default) or the reference's bootstrap median",
    )
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    add_logging_flags(parser)
    return parser


def evaluate_files(
    golds_path: str | Path,
    preds_path: str | Path,
    task: str | Task | None = None,
    aggregate: str = "mean",
    seed: int = 0,
) -> dict[str, float]:
    """Evaluate a predictions file against a golds file, as the reference's evaluator does.

    The ids of the two files must be equal as sets; the files' task names must agree with each
    other and with ``task`` when given.
    """
    golds_task, golds = parse_outputs(read_json(Path(golds_path)), None, golds_path)
    preds_task, preds = parse_outputs(read_json(Path(preds_path)), None, preds_path)
    names = [("--task", task), (str(golds_path), golds_task), (str(preds_path), preds_task)]
    named = [(where, get_task(name)) for where, name in names if name is not None]
    if not named:
        raise UserError("no task given and neither file names one; pass --task LaMP-k")
    resolved = named[0][1]
    for where, other in named[1:]:
        if other is not resolved:
            raise DataError(
                where,
                f"task is {other.official_name!r}, expected {resolved.official_name!r}",
                field="task",
            )
    if set(golds) != set(preds):
        missing = sorted(set(golds) - set(preds))
        extra = sorted(set(preds) - set(golds))
        detail = []
        if missing:
            detail.append(f"{len(missing)} gold id(s) without prediction (e.g. {missing[0]!r})")
        if extra:
            detail.append(f"{len(extra)} prediction id(s) not in the golds (e.g. {extra[0]!r})")
        raise DataError(
            preds_path, "prediction ids and gold ids do not match: " + "; ".join(detail), field="id"
        )
    ids = list(golds)
    return resolved.evaluate(
        [golds[i] for i in ids], [preds[i] for i in ids], aggregate=aggregate, seed=seed
    )


@user_errors_exit_2
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose, args.quiet)
    results = evaluate_files(args.golds, args.preds, args.task, args.aggregate, args.seed)
    if args.output:
        atomic_write_json(args.output, results)
    else:
        json.dump(results, sys.stdout, indent=2)
        sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
