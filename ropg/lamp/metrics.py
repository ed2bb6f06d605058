"""Official LaMP metrics and per-example feedback scores (docs/lamp-fidelity.md: Metrics).

Three metric families (a task holds one as ``task.metric``):

- ``classification`` (LaMP-1, LaMP-2, LaMP-2-old): ``accuracy`` and macro ``f1`` over *all*
  labels; predictions are ``str(x).strip()``-ed and matched case-sensitively against the label
  list, anything else is wrong (-1).
- ``rating`` (LaMP-3): ``MAE`` and ``RMSE``; an unparseable prediction becomes the rating
  farther from the gold (1.0 or 5.0; gold 3 gives 5.0). No clipping.
- ``rouge`` (LaMP-4..7): ``rouge-1`` and ``rouge-L`` F-measure with rouge-score's default
  tokenizer and no stemming; aggregated by the plain mean (default) or, as the reference's
  ``evaluate`` call does, by the median of 1,000 bootstrap resample means (seeded here).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

import numpy as np

from ropg.lamp.errors import LampError

AGGREGATES = ("mean", "bootstrap")
LOWER_IS_BETTER = frozenset({"MAE", "RMSE"})  # every other metric key: higher is better
BOOTSTRAP_SAMPLES = 1000


class TaskMetric(Protocol):
    """What a metric family provides to a task."""

    keys: tuple[str, ...]
    higher_is_better: dict[str, bool]

    def per_example(self, golds: Sequence[str], preds: Sequence[Any]) -> dict[str, np.ndarray]:
        """Per-example values whose mean (or RMSE) gives the official numbers."""

    def evaluate(
        self,
        golds: Sequence[str],
        preds: Sequence[Any],
        aggregate: str = "mean",
        seed: int = 0,
    ) -> dict[str, float]:
        """The official metrics under their official keys."""

    def example_score(self, gold: str, pred: Any) -> float:
        """Per-example feedback score in which higher is better (docs/lamp-fidelity.md)."""


def _check_lengths(golds: Sequence[Any], preds: Sequence[Any]) -> None:
    if len(golds) != len(preds):
        raise LampError(f"{len(golds)} golds but {len(preds)} predictions")
    if not golds:
        raise LampError("no examples to evaluate")


def _check_aggregate(aggregate: str) -> None:
    if aggregate not in AGGREGATES:
        raise LampError(f"unknown aggregate {aggregate!r}; choose one of {AGGREGATES}")


@dataclass(frozen=True)
class ClassificationMetric:
    """Accuracy and macro-F1 over the full label list (sklearn's ``labels=range(n)``)."""

    labels: tuple[str, ...]
    keys: tuple[str, ...] = ("accuracy", "f1")

    @property
    def higher_is_better(self) -> dict[str, bool]:
        return {"accuracy": True, "f1": True}

    def label_index(self, value: Any) -> int:
        """Index of ``str(value).strip()`` in the label list, -1 when it is not a label."""
        text = str(value).strip()
        try:
            return self.labels.index(text)
        except ValueError:
            return -1

    def _indices(self, golds: Sequence[Any], preds: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
        gold_ids = np.fromiter((self.label_index(g) for g in golds), dtype=np.int64)
        pred_ids = np.fromiter((self.label_index(p) for p in preds), dtype=np.int64)
        return gold_ids, pred_ids

    def per_example(self, golds: Sequence[str], preds: Sequence[Any]) -> dict[str, np.ndarray]:
        """``accuracy`` (1.0/0.0), and the label indices ``gold_label``/``pred_label`` (-1: not
        a label) from which macro-F1 is recomputed by its significance test."""
        _check_lengths(golds, preds)
        gold_ids, pred_ids = self._indices(golds, preds)
        return {
            "accuracy": (gold_ids == pred_ids).astype(np.float64),
            "gold_label": gold_ids.astype(np.float64),
            "pred_label": pred_ids.astype(np.float64),
        }

    def evaluate(
        self, golds: Sequence[str], preds: Sequence[Any], aggregate: str = "mean", seed: int = 0
    ) -> dict[str, float]:
        _check_lengths(golds, preds)
        _check_aggregate(aggregate)
        gold_ids, pred_ids = self._indices(golds, preds)
        f1_per_label = []
        for label in range(len(self.labels)):
            true_positive = np.sum((pred_ids == label) & (gold_ids == label))
            false_positive = np.sum((pred_ids == label) & (gold_ids != label))
            false_negative = np.sum((pred_ids != label) & (gold_ids == label))
            denominator = 2 * true_positive + false_positive + false_negative
            f1_per_label.append(2 * true_positive / denominator if denominator else 0.0)
        return {
            "accuracy": float(np.mean(gold_ids == pred_ids)),
            "f1": float(np.mean(f1_per_label)),
        }

    def example_score(self, gold: str, pred: Any) -> float:
        return float(self.label_index(gold) == self.label_index(pred))


def _parse_gold_rating(gold: Any) -> float:
    try:
        return float(str(gold).strip())
    except ValueError:
        raise LampError(f"gold rating {gold!r} is not a number") from None


def parse_rating(pred: Any, gold: float) -> float:
    """The reference's mapping of a rating prediction: ``float`` or the farther extreme."""
    try:
        return float(str(pred).strip())
    except ValueError:
        return 1.0 if abs(1 - gold) > abs(5 - gold) else 5.0


@dataclass(frozen=True)
class RatingMetric:
    """MAE and RMSE of 1-5 ratings (LaMP-3)."""

    keys: tuple[str, ...] = ("MAE", "RMSE")

    @property
    def higher_is_better(self) -> dict[str, bool]:
        return {key: key not in LOWER_IS_BETTER for key in self.keys}

    def _errors(self, golds: Sequence[Any], preds: Sequence[Any]) -> np.ndarray:
        _check_lengths(golds, preds)
        gold_values = [_parse_gold_rating(g) for g in golds]
        return np.array(
            [parse_rating(p, g) - g for p, g in zip(preds, gold_values)], dtype=np.float64
        )

    def per_example(self, golds: Sequence[str], preds: Sequence[Any]) -> dict[str, np.ndarray]:
        return {"MAE": np.abs(self._errors(golds, preds))}

    def evaluate(
        self, golds: Sequence[str], preds: Sequence[Any], aggregate: str = "mean", seed: int = 0
    ) -> dict[str, float]:
        _check_aggregate(aggregate)
        errors = self._errors(golds, preds)
        return {
            "MAE": float(np.mean(np.abs(errors))),
            "RMSE": float(math.sqrt(np.mean(errors**2))),
        }

    def example_score(self, gold: str, pred: Any) -> float:
        """``(worst - |y_hat - y|) / worst`` with ``worst = max(|y-1|, |y-5|)``."""
        gold_value = _parse_gold_rating(gold)
        worst = max(abs(gold_value - 1), abs(gold_value - 5))
        error = abs(parse_rating(pred, gold_value) - gold_value)
        return (worst - error) / worst


@lru_cache(maxsize=1)
def _rouge_scorer() -> Any:
    from rouge_score import rouge_scorer  # heavy import, done lazily

    return rouge_scorer.RougeScorer(["rouge1", "rougeL"], use_stemmer=False)


def bootstrap_median_of_means(
    values: np.ndarray, seed: int, samples: int = BOOTSTRAP_SAMPLES
) -> float:
    """Median of ``samples`` bootstrap resample means (rouge-score's BootstrapAggregator mid)."""
    rng = np.random.default_rng(seed)
    count = len(values)
    means = np.empty(samples, dtype=np.float64)
    for start in range(0, samples, 100):  # bounded memory for large splits
        stop = min(start + 100, samples)
        indices = rng.integers(0, count, size=(stop - start, count))
        means[start:stop] = values[indices].mean(axis=1)
    return float(np.percentile(means, 50))


@dataclass(frozen=True)
class RougeMetric:
    """ROUGE-1 and ROUGE-L F-measure, no stemming (LaMP-4..7)."""

    keys: tuple[str, ...] = ("rouge-1", "rouge-L")

    @property
    def higher_is_better(self) -> dict[str, bool]:
        return {"rouge-1": True, "rouge-L": True}

    def per_example(self, golds: Sequence[str], preds: Sequence[Any]) -> dict[str, np.ndarray]:
        _check_lengths(golds, preds)
        scorer = _rouge_scorer()
        rouge1, rouge_l = [], []
        for gold, pred in zip(golds, preds):
            scores = scorer.score(str(gold).strip(), str(pred).strip())
            rouge1.append(scores["rouge1"].fmeasure)
            rouge_l.append(scores["rougeL"].fmeasure)
        return {"rouge-1": np.array(rouge1), "rouge-L": np.array(rouge_l)}

    def evaluate(
        self, golds: Sequence[str], preds: Sequence[Any], aggregate: str = "mean", seed: int = 0
    ) -> dict[str, float]:
        _check_aggregate(aggregate)
        values = self.per_example(golds, preds)
        if aggregate == "bootstrap":
            return {key: bootstrap_median_of_means(v, seed) for key, v in values.items()}
        return {key: float(np.mean(v)) for key, v in values.items()}

    def example_score(self, gold: str, pred: Any) -> float:
        return float(_rouge_scorer().score(str(gold).strip(), str(pred).strip())["rouge1"].fmeasure)
