"""Checks of gold outputs at load time, by the task's metric, naming the file, record and field.

A gold the metric cannot use — a LaMP-3 rating that is not a number, not finite, or outside
the 1-5 scale — is refused when the outputs file loads (a :class:`~ropg.errors.DataError`
naming the file, the record, its id and ``output``), not after hours of generation. A
classification gold that is not one of the task's labels can only ever be scored wrong: it is
reported as a warning (how many, and the first one), and the data is used as it is.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

from ropg.errors import DataError
from ropg.lamp.metrics import ClassificationMetric, RatingMetric
from ropg.lamp.tasks import Task

logger = logging.getLogger(__name__)

GoldCheck = Callable[[Any, Any], "tuple[str, bool] | None"]
"""``check(metric, gold)``: None when the gold is fine, else ``(problem, fatal)``."""


def _rating_gold(metric: RatingMetric, gold: Any) -> tuple[str, bool] | None:
    try:
        value = float(str(gold).strip())
    except ValueError:
        return f"gold rating {gold!r} is not a number", True
    if not math.isfinite(value):
        return f"gold rating {gold!r} is not a finite number", True
    if not 1 <= value <= 5:
        return f"gold rating {gold!r} is outside the 1-5 scale", True
    return None


def _label_gold(metric: ClassificationMetric, gold: Any) -> tuple[str, bool] | None:
    if metric.label_index(gold) < 0:
        return f"gold {gold!r} is not one of the task's labels (it can never be predicted)", False
    return None


GOLD_CHECKS: dict[type, GoldCheck] = {
    RatingMetric: _rating_gold,
    ClassificationMetric: _label_gold,
}
"""Gold checks by metric class (a task with another metric gets none)."""


def check_golds(task: Task, golds: Mapping[str, Any], path: object) -> None:
    """Refuse (or warn about) golds ``task``'s metric cannot use; ``golds`` is the outputs
    file's ``{id: output}`` in file order."""
    check = GOLD_CHECKS.get(type(task.metric))
    if check is None:
        return
    warned: list[tuple[int, str, str]] = []
    for index, (record_id, gold) in enumerate(golds.items()):
        found = check(task.metric, gold)
        if found is None:
            continue
        problem, fatal = found
        if fatal:
            raise DataError(path, problem, index=index, record_id=record_id, field="output")
        warned.append((index, record_id, problem))
    if warned:
        index, record_id, problem = warned[0]
        logger.warning(
            "%s: %d gold output(s) the %s metric cannot match, e.g. record %d, id %r, field "
            "'output': %s",
            path, len(warned), task.name, index, record_id, problem,
        )  # fmt: skip
