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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ropg.cli.common import user_errors_exit_2
from ropg.cli.config_flags import build_config_parser, parse_config
from ropg.errors import DataError, UserError
from ropg.lamp.data import parse_outputs, read_json
from ropg.lamp.metrics import AGGREGATES
from ropg.lamp.tasks import Task, get_task
from ropg.lamp.validation import check_golds
from ropg.utils.config import ConfigBase, field_help
from ropg.utils.io import atomic_write_json, check_replaceable, json_file_is


@dataclass
class EvalConfig(ConfigBase):
    """What ``ropg-eval`` scores (the reference's flag names are aliases)."""

    SECTION: ClassVar[str] = "eval"

    golds: str = field(
        default="",
        metadata=field_help(
            "gold outputs JSON ({'task', 'golds': [{id, output}]})", aliases=("--golds_json",)
        ),
    )
    preds: str = field(
        default="",
        metadata=field_help("predictions JSON in the same shape", aliases=("--preds_json",)),
    )
    task: str | None = field(
        default=None,
        metadata=field_help(
            "LaMP-1..LaMP-7 or LaMP_k (default: the golds file's task)", aliases=("--task_name",)
        ),
    )
    output: str | None = field(
        default=None,
        metadata=field_help(
            "write the metrics JSON here (atomically) instead of stdout",
            aliases=("--output_file",),
        ),
    )
    aggregate: str = field(
        default="mean",
        metadata=field_help("ROUGE aggregation: plain mean or the reference's bootstrap median"),
    )
    seed: int = field(default=0, metadata=field_help("bootstrap seed"))
    overwrite: bool = field(
        default=False, metadata=field_help("replace an --output file that is not ropg metrics")
    )

    def checks(self) -> list[tuple[bool, str]]:
        return [
            (bool(self.golds), "give the golds file (--golds)"),
            (bool(self.preds), "give the predictions file (--preds)"),
            (self.aggregate in AGGREGATES, f"aggregate must be one of {AGGREGATES}"),
        ]


def build_parser() -> argparse.ArgumentParser:
    return build_config_parser(
        "ropg-eval", "Official LaMP metrics of a predictions file.", EvalConfig
    )


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
    check_golds(resolved, golds, golds_path)
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


def _is_metrics(path: Path) -> bool:
    """Whether ``path`` holds metrics as ``ropg-eval`` writes them: ``{metric: number}``."""

    def shape(data: Any) -> bool:
        return isinstance(data, dict) and all(
            isinstance(v, (int, float)) or v is None for v in data.values()
        )

    return json_file_is(path, shape)


@user_errors_exit_2
def main(argv: Sequence[str] | None = None) -> int:
    config, printed, _ = parse_config(build_parser(), argv, EvalConfig)
    if printed:
        return 0
    if config.output:
        check_replaceable(
            config.output, inputs=(config.golds, config.preds), recognise=_is_metrics,
            what="metrics file", overwrite=config.overwrite,
        )  # fmt: skip
    results = evaluate_files(config.golds, config.preds, config.task, config.aggregate, config.seed)
    if config.output:
        atomic_write_json(config.output, results)
    else:
        json.dump(results, sys.stdout, indent=2)
        sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
