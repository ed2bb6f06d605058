"""BLEU and ROUGE-1/2/L for passage completion, per example and aggregated, with significance.

- ``bleu``: sacrebleu's corpus BLEU (0-100, its default 13a tokenization) over the split;
  per example, sacrebleu's sentence BLEU (exponential smoothing) for significance tests.
- ``rouge-1``, ``rouge-2``, ``rouge-L``: rouge-score F-measures (0-1, no stemming), the mean
  over examples; per example for significance tests.

Significance: the paired two-tailed t-test on per-example values
(:func:`ropg.lamp.stats.metric_p_value`, the same test the LaMP tables use for ROUGE).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from ropg.errors import UserError

METRIC_KEYS = ("bleu", "rouge-1", "rouge-2", "rouge-L")
_ROUGE_TYPES = {"rouge-1": "rouge1", "rouge-2": "rouge2", "rouge-L": "rougeL"}


@lru_cache(maxsize=2)
def _rouge_scorer(use_stemmer: bool = False) -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(list(_ROUGE_TYPES.values()), use_stemmer=use_stemmer)


def _check(golds: Sequence[Any], preds: Sequence[Any]) -> None:
    if len(golds) != len(preds):
        raise UserError(f"{len(golds)} golds but {len(preds)} predictions")


def rouge_per_example(
    golds: Sequence[str], preds: Sequence[str], use_stemmer: bool = False
) -> dict[str, np.ndarray]:
    """ROUGE-1/2/L F-measure of each prediction against its gold."""
    _check(golds, preds)
    scorer = _rouge_scorer(use_stemmer)
    values: dict[str, list[float]] = {key: [] for key in _ROUGE_TYPES}
    for gold, pred in zip(golds, preds):
        scores = scorer.score(str(gold).strip(), str(pred).strip())
        for key, name in _ROUGE_TYPES.items():
            values[key].append(scores[name].fmeasure)
    return {key: np.asarray(found, dtype=np.float64) for key, found in values.items()}


def rouge1(gold: str, pred: str) -> float:
    """ROUGE-1 F-measure of one prediction (the per-example feedback score)."""
    return float(
        _rouge_scorer(False).score(str(gold).strip(), str(pred).strip())["rouge1"].fmeasure
    )


def sentence_bleu(golds: Sequence[str], preds: Sequence[str]) -> np.ndarray:
    """sacrebleu sentence BLEU (0-100) of each prediction against its gold."""
    import sacrebleu

    _check(golds, preds)
    return np.asarray(
        [
            sacrebleu.sentence_bleu(str(p).strip(), [str(g).strip()]).score
            for g, p in zip(golds, preds)
        ],
        dtype=np.float64,
    )


def corpus_bleu(golds: Sequence[str], preds: Sequence[str]) -> float:
    """sacrebleu corpus BLEU (0-100) of the predictions (one reference each)."""
    import sacrebleu

    _check(golds, preds)
    if not golds:
        return 0.0
    return float(
        sacrebleu.corpus_bleu(
            [str(p).strip() for p in preds], [[str(g).strip() for g in golds]]
        ).score
    )


def per_example(
    golds: Sequence[str], preds: Sequence[str], use_stemmer: bool = False
) -> dict[str, np.ndarray]:
    """Per-example values of every metric key (sentence BLEU, ROUGE-1/2/L F)."""
    return {"bleu": sentence_bleu(golds, preds), **rouge_per_example(golds, preds, use_stemmer)}


def evaluate(
    golds: Sequence[str], preds: Sequence[str], use_stemmer: bool = False
) -> dict[str, float]:
    """Corpus BLEU and the mean ROUGE-1/2/L F over the examples."""
    rouge = rouge_per_example(golds, preds, use_stemmer)
    result = {"bleu": corpus_bleu(golds, preds)}
    result.update({key: float(np.mean(v)) if len(v) else 0.0 for key, v in rouge.items()})
    return result


def significance(
    values_a: Mapping[str, Sequence[float]], values_b: Mapping[str, Sequence[float]]
) -> dict[str, float]:
    """Paired t-test p-value per metric key present in both per-example mappings."""
    from ropg.lamp.stats import metric_p_value

    return {
        key: metric_p_value(key, values_a[key], values_b[key])
        for key in METRIC_KEYS
        if key in values_a and key in values_b
    }
