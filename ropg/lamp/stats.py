"""Significance tests of the paper-style tables: one paired test per metric (DESIGN "Honest
numbers"), on two systems' per-example values of the same examples (``Task.per_example``).

- ``accuracy`` (LaMP-1, LaMP-2): McNemar's test on per-example correctness: the exact
  binomial form when there are fewer than 25 discordant pairs, else the chi-square form with
  continuity correction (the usual textbook rule, as in statsmodels' ``mcnemar``).
- ``MAE``, ``rouge-1``, ``rouge-L`` (LaMP-3..7), and any other metric that is a mean of
  per-example values: two-tailed paired t-test on those values.
- ``f1`` (macro-F1, LaMP-1/2) and ``RMSE`` (LaMP-3) are corpus-level metrics, not means of
  per-example values, so a t-test does not fit them: a two-sided paired randomization test
  (approximate randomization; Noreen 1989, the test Dror et al. 2018 recommend for such NLP
  metrics). Each of ``resamples`` (9,999) resamples swaps the two systems' outputs of every
  example with probability 1/2 and recomputes the metric on the swapped sets;
  ``p = (1 + #{|resampled difference| >= |observed difference|}) / (1 + resamples)``, two-sided;
  exact (every one of the ``2**n`` swaps) when ``2**n <= resamples``, where it equals the p of
  ``scipy.stats.permutation_test`` with ``permutation_type="samples"`` (tests compare them);
  computed without building the resampled data sets. Seeded (``seed``, default 0): the same
  inputs always give the same p.

The metrics are recomputed on each resample from additive per-example statistics (a swap
only changes which system an example's statistics count for), so 9,999 resamples of a
2,500-example test split take well under a second: macro-F1 from per-label true positive,
predicted and gold counts (``gold_label``/``pred_label`` of ``per_example``: label indices,
-1 for a prediction outside the label list), RMSE from squared errors (the ``MAE`` values
squared). Macro-F1 is averaged over the labels up to the largest index seen in either system
or the golds; labels beyond it add 0 to every resample's F1 and the divisor is the same for
both systems, so neither the sign of the difference nor the p-value changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from ropg.lamp.errors import LampError
from ropg.lamp.tasks import Task, get_task

EXACT_MCNEMAR_BELOW = 25
RANDOMIZATION_RESAMPLES = 9999
RANDOMIZATION_BATCH = 1000  # resamples per matrix product (memory: batch x n floats)

# one system's per-example values: every key of ``Task.per_example``, or the one array a
# metric's test reads (its own values; for RMSE the absolute errors)
PerExample = Mapping[str, Sequence[float]] | Sequence[float] | np.ndarray


# -- the tests ----------------------------------------------------------------------------------
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


# -- metrics as functions of summed per-example statistics ----------------------------------------
@dataclass(frozen=True)
class CorpusMetric:
    """A metric written as ``value(sum over examples of the per-example statistics)``.

    Attributes:
        inputs: the ``per_example`` keys it reads (in the order ``statistics`` takes them).
        statistics: the inputs of system a and of system b -> their ``(n, k)`` statistics
            (jointly, so that both use the same label set).
        value: summed statistics ``(..., k)`` and ``n`` -> the metric ``(...)``.
    """

    inputs: tuple[str, ...]
    statistics: Callable[[list[np.ndarray], list[np.ndarray]], tuple[np.ndarray, np.ndarray]]
    value: Callable[[np.ndarray, int], np.ndarray]


def mean_metric(key: str) -> CorpusMetric:
    """The mean of the per-example values ``key`` (accuracy, MAE, ROUGE)."""
    return CorpusMetric(
        (key,), lambda a, b: (a[0][:, None], b[0][:, None]), lambda sums, n: sums[..., 0] / n
    )


def _squares(a: list[np.ndarray], b: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    return (a[0] ** 2)[:, None], (b[0] ** 2)[:, None]


# RMSE from the per-example absolute errors (``MAE`` of ``per_example``)
ROOT_MEAN_SQUARE = CorpusMetric(("MAE",), _squares, lambda sums, n: np.sqrt(sums[..., 0] / n))


def _label_counts(a: list[np.ndarray], b: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per example, one-hot ``[true positive | predicted | gold]`` over labels ``0..L-1``."""
    gold_a, pred_a = (np.asarray(x, dtype=np.int64) for x in a)
    gold_b, pred_b = (np.asarray(x, dtype=np.int64) for x in b)
    if not np.array_equal(gold_a, gold_b):
        raise LampError("the two systems were scored on different gold labels")
    labels = np.arange(int(max(gold_a.max(), pred_a.max(), pred_b.max(), -1)) + 1)

    def counts(pred: np.ndarray) -> np.ndarray:
        predicted = pred[:, None] == labels
        gold = gold_a[:, None] == labels
        return np.concatenate([predicted & gold, predicted, gold], axis=1).astype(np.float64)

    return counts(pred_a), counts(pred_b)


def _macro_f1(sums: np.ndarray, n: int) -> np.ndarray:
    true_positive, predicted, gold = np.split(sums, 3, axis=-1)
    denominator = predicted + gold  # 2 tp + fp + fn
    f1 = np.divide(
        2 * true_positive, denominator, out=np.zeros_like(denominator), where=denominator > 0
    )
    return f1.mean(axis=-1) if f1.shape[-1] else np.zeros(f1.shape[:-1])


MACRO_F1 = CorpusMetric(("gold_label", "pred_label"), _label_counts, _macro_f1)


def _swap_masks(n: int, resamples: int, seed: int) -> tuple[Iterator[np.ndarray], bool]:
    """Batches of 0/1 swap masks ``(batch, n)``: every one of the ``2**n`` when that is at
    most ``resamples`` (exact test), else ``resamples`` random ones (seeded)."""
    if n < 63 and 2**n <= resamples:
        codes = np.arange(2**n, dtype=np.int64)
        masks = ((codes[:, None] >> np.arange(n)) & 1).astype(np.float64)
        return iter([masks]), True
    rng = np.random.default_rng(seed)
    sizes = [RANDOMIZATION_BATCH] * (resamples // RANDOMIZATION_BATCH)
    sizes += [resamples % RANDOMIZATION_BATCH] if resamples % RANDOMIZATION_BATCH else []

    def masks(size: int) -> np.ndarray:  # random bits, 8 per byte
        packed = rng.integers(0, 256, size=(size, (n + 7) // 8), dtype=np.uint8)
        return np.unpackbits(packed, axis=1, count=n).astype(np.float64)

    return (masks(size) for size in sizes), False


def randomization_test(
    metric: CorpusMetric,
    statistics_a: np.ndarray,
    statistics_b: np.ndarray,
    *,
    resamples: int = RANDOMIZATION_RESAMPLES,
    seed: int = 0,
) -> float:
    """Two-sided paired randomization p-value of ``metric`` (see the module docstring).

    In the exact case (``2**n <= resamples``) this is the p of ``scipy.stats.
    permutation_test(..., permutation_type="samples")``; with random swaps it counts
    ``|difference|`` (scipy doubles the smaller one-sided p instead; the null distribution
    is symmetric, so both estimate the same p). scipy's version builds every resampled data
    set and takes seconds per comparison at LaMP sizes, and a results table makes a hundred
    comparisons; this one works on the summed statistics (about 0.1 s).
    """
    n = statistics_a.shape[0]
    base = statistics_a.sum(axis=0)
    delta = statistics_b - statistics_a
    total = base + statistics_b.sum(axis=0)

    def difference(swapped: np.ndarray) -> np.ndarray:  # swapped: (..., n), 1 = from system b
        sums = base + swapped @ delta
        return metric.value(sums, n) - metric.value(total - sums, n)

    observed = float(difference(np.zeros(n)))
    threshold = abs(observed) - 1e-12 * max(1.0, abs(observed))  # ties count as extreme
    batches, exact = _swap_masks(n, resamples, seed)
    extreme = drawn = 0
    for masks in batches:
        extreme += int(np.sum(np.abs(difference(masks)) >= threshold))
        drawn += masks.shape[0]
    return extreme / drawn if exact else (extreme + 1) / (drawn + 1)


# -- one test per metric ------------------------------------------------------------------------
@dataclass(frozen=True)
class PairedTest:
    """A paired significance test: its name (table legends) and ``p(metric, stats_a, stats_b,
    resamples, seed)`` on the metric's per-example statistics."""

    label: str
    p_value: Callable[[CorpusMetric, np.ndarray, np.ndarray, int, int], float]


def _mcnemar(metric: CorpusMetric, a: np.ndarray, b: np.ndarray, resamples: int, seed: int):
    return mcnemar_test(a[:, 0] > 0.5, b[:, 0] > 0.5)


def _t_test(metric: CorpusMetric, a: np.ndarray, b: np.ndarray, resamples: int, seed: int):
    return 1.0 if a.shape[0] < 2 else paired_t_test(a[:, 0], b[:, 0])


def _randomization(metric: CorpusMetric, a: np.ndarray, b: np.ndarray, resamples: int, seed: int):
    if a.shape[0] < 2:
        return 1.0
    return randomization_test(metric, a, b, resamples=resamples, seed=seed)


TESTS: dict[str, PairedTest] = {
    "mcnemar": PairedTest("McNemar's test", _mcnemar),
    "t-test": PairedTest("two-tailed paired t-test", _t_test),
    "randomization": PairedTest(
        f"two-sided paired randomization test ({RANDOMIZATION_RESAMPLES:,} resamples)",
        _randomization,
    ),
}

# metric key -> (how it is computed from per-example values, its test); others: mean, t-test
METRIC_TESTS: dict[str, tuple[CorpusMetric, str]] = {
    "accuracy": (mean_metric("accuracy"), "mcnemar"),
    "f1": (MACRO_F1, "randomization"),
    "MAE": (mean_metric("MAE"), "t-test"),
    "RMSE": (ROOT_MEAN_SQUARE, "randomization"),
    "rouge-1": (mean_metric("rouge-1"), "t-test"),
    "rouge-L": (mean_metric("rouge-L"), "t-test"),
}


def metric_test(metric: str) -> tuple[CorpusMetric, PairedTest]:
    """How ``metric`` is computed from per-example values, and the paired test it gets."""
    corpus, test = METRIC_TESTS.get(metric, (mean_metric(metric), "t-test"))
    return corpus, TESTS[test]


def paired_test_label(metric: str) -> str:
    """The name of ``metric``'s test, e.g. ``"McNemar's test"`` (for table legends)."""
    return metric_test(metric)[1].label


def has_inputs(metric: str, values: PerExample | None) -> bool:
    """Whether ``values`` (one system's per-example values) hold what ``metric``'s test reads."""
    if values is None:
        return False
    if not isinstance(values, Mapping):
        return len(metric_test(metric)[0].inputs) == 1
    return all(values.get(key) is not None for key in metric_test(metric)[0].inputs)


def _inputs(metric: str, corpus: CorpusMetric, values: PerExample) -> list[np.ndarray]:
    if not isinstance(values, Mapping):
        if len(corpus.inputs) != 1:
            raise LampError(f"the {metric} test needs the per-example {list(corpus.inputs)}")
        return [np.asarray(values, dtype=np.float64)]
    missing = [key for key in corpus.inputs if values.get(key) is None]
    if missing:
        raise LampError(f"no per-example {missing} for the {metric} test (has {list(values)})")
    return [np.asarray(values[key], dtype=np.float64) for key in corpus.inputs]


@dataclass(frozen=True)
class PairedComparison:
    """``difference`` = metric(a) - metric(b) (on the same label set), and its ``p_value``."""

    difference: float
    p_value: float


def compare(
    metric: str,
    values_a: PerExample,
    values_b: PerExample,
    *,
    resamples: int = RANDOMIZATION_RESAMPLES,
    seed: int = 0,
) -> PairedComparison:
    """Two systems' ``metric`` compared on the same examples, with the metric's paired test.

    ``values_a``/``values_b``: each system's per-example values (a ``Task.per_example``
    mapping, or the one array the metric's test reads).
    """
    corpus, test = metric_test(metric)
    inputs_a, inputs_b = _inputs(metric, corpus, values_a), _inputs(metric, corpus, values_b)
    if any(a.shape != b.shape for a, b in zip(inputs_a, inputs_b)):
        raise LampError(f"{metric}: the two systems have per-example values of different sizes")
    statistics_a, statistics_b = corpus.statistics(inputs_a, inputs_b)
    n = statistics_a.shape[0]
    if n == 0:
        return PairedComparison(0.0, 1.0)
    difference = float(
        corpus.value(statistics_a.sum(axis=0), n) - corpus.value(statistics_b.sum(axis=0), n)
    )
    return PairedComparison(difference, float(test.p_value(corpus, statistics_a, statistics_b,
                                                           resamples, seed)))  # fmt: skip


def metric_p_value(
    metric: str,
    values_a: PerExample,
    values_b: PerExample,
    *,
    resamples: int = RANDOMIZATION_RESAMPLES,
    seed: int = 0,
) -> float:
    """p-value of ``metric``'s paired test (see the module docstring) on two systems'
    per-example values (1.0 for fewer than 2 examples, except McNemar's)."""
    return compare(metric, values_a, values_b, resamples=resamples, seed=seed).p_value


def significance(
    task: str | Task,
    golds: Sequence[str],
    preds_a: Sequence[Any],
    preds_b: Sequence[Any],
    metric: str | None = None,
    *,
    seed: int = 0,
) -> float:
    """p-value of the difference between two systems' predictions on the same examples, with
    ``metric``'s test (default: the task's first metric: ``accuracy``, ``MAE`` or
    ``rouge-1``)."""
    task = get_task(task)
    values_a = task.per_example(golds, preds_a)
    values_b = task.per_example(golds, preds_b)
    key = metric or task.metric_keys[0]
    if key not in task.metric_keys and key not in values_a:
        raise LampError(
            f"{task.name} has no per-example metric {key!r} (has {list(task.metric_keys)})"
        )
    return metric_p_value(key, values_a, values_b, seed=seed)
