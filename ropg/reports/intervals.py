"""Confidence intervals over examples: a seeded percentile bootstrap of the per-example mean."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

CONFIDENCE = 0.95
RESAMPLES = 1000


def bootstrap_interval(
    values: Sequence[float],
    seed: int = 0,
    confidence: float = CONFIDENCE,
    resamples: int = RESAMPLES,
) -> tuple[float, float] | None:
    """``(low, high)`` of the mean of ``values``: a percentile bootstrap over examples
    (``scipy.stats.bootstrap``, ``resamples`` resamples, seeded, so the same values always give
    the same interval). None for fewer than 2 values; a point for constant values."""
    from scipy import stats

    data = np.asarray(values, dtype=np.float64)
    if data.size < 2:
        return None
    if np.all(data == data[0]):
        return float(data[0]), float(data[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns on near-degenerate resample distributions
        result = stats.bootstrap(
            (data,),
            np.mean,
            confidence_level=confidence,
            n_resamples=resamples,
            method="percentile",
            random_state=np.random.default_rng(seed),
            vectorized=True,
        )
    interval = result.confidence_interval
    return float(interval.low), float(interval.high)
