"""Significance tests used in the paper's tables (LAMP_SPEC section 7, DESIGN "Honest numbers").

- ROUGE and absolute error (LaMP-3..7): two-tailed paired t-test on per-example values.
- Accuracy (LaMP-1, LaMP-2): McNemar's test on per-example correctness: the exact binomial
  form when there are fewer than 25 discordant pairs, else the chi-square form with
  continuity correction (the usual textbook rule, as in statsmodels' ``mcnemar``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats

from ropg.lamp.errors import LampError
from ropg.lamp.tasks import Task, get_task

EXACT_MCNEMAR_BELOW = 25


def paired_t_test(values_a: Sequence[float], values_b: Sequence[float]) -> float:
    """Two-tailed paired t-test p-value; 1.0 when the two samples are identical."""
    a = np.asarray(values_a, dtype=np.float64)
    b = np.asarray(values_b, dtype=np.float64)
    if a.shape != b.shape or a.size < 2:
        raise LampError("a paired t-test needs two samples of the same size (at least 2)")
    differences = a - b
    if np.allclose(differences, differences[0]):
        return 1.0 if np.isclose(differences[0], 0.0) else 0.0
    return float(stats.ttest_rel(a, b).pvalue)


def mcnemar_test(correct_a: Sequence[bool], correct_b: Sequence[bool]) -> float:
    """McNemar's p-value on paired correctness (exact binomial when discordance is small)."""
    a = np.asarray(correct_a, dtype=bool)
    b = np.asarray(correct_b, dtype=bool)
    if a.shape != b.shape:
        raise LampError("McNemar's test needs two samples of the same size")
    only_a = int(np.sum(a & ~b))
    only_b = int(np.sum(~a & b))
    discordant = only_a + only_b
    if discordant == 0:
        return 1.0
    if discordant < EXACT_MCNEMAR_BELOW:
        return float(stats.binomtest(min(only_a, only_b), discordant, 0.5).pvalue)
    statistic = (abs(only_a - only_b) - 1) ** 2 / discordant
    return float(stats.chi2.sf(statistic, df=1))


def metric_p_value(metric: str, values_a: Sequence[float], values_b: Sequence[float]) -> float:
    """p-value of the paper's test for ``metric`` on two systems' per-example values:
    McNemar on correctness (``> 0.5``) for ``accuracy``, else a two-tailed paired t-test
    (1.0 for fewer than 2 examples)."""
    a = np.asarray(values_a, dtype=np.float64)
    b = np.asarray(values_b, dtype=np.float64)
    if metric == "accuracy":
        return mcnemar_test(a > 0.5, b > 0.5)
    if a.size < 2:
        return 1.0
    return paired_t_test(a, b)


def significance(
    task: str | Task,
    golds: Sequence[str],
    preds_a: Sequence[Any],
    preds_b: Sequence[Any],
    metric: str | None = None,
) -> float:
    """p-value of the difference between two systems' predictions on the same examples.

    Accuracy-type tasks use McNemar, the others a paired t-test on the per-example values of
    ``metric`` (default: the task's first metric key: ``MAE`` or ``rouge-1``).
    """
    task = get_task(task)
    values_a = task.per_example(golds, preds_a)
    values_b = task.per_example(golds, preds_b)
    key = metric or next(iter(values_a))
    if key not in values_a:
        raise LampError(f"{task.name} has no per-example metric {key!r} (has {list(values_a)})")
    return metric_p_value(key, values_a[key], values_b[key])
