"""Selectors that need no training: QPP predictors, random, and the best single retriever.

A QPP (query performance prediction) selector scores the ranked list each retriever returned
for an input and picks the retriever whose list scores highest (ties: the first in pool order),
as in the paper's Table 4. The list of a retriever is its stored ``retrieval_scores``, except
(paper, section 6): ``recency`` has no scores, so its items get their reciprocal rank
``1/r``; ``none`` retrieves nothing, so its list is all zeros. Other retrievers can be given
either rule through ``score_rules``.

Predictors, for a list ``s_1 >= s_2 >= ... >= s_n`` (the first ``k`` when ``k`` is given;
population standard deviations; an empty list predicts 0):

- ``wig`` (weighted information gain, Zhou & Croft 2007): ``mean(s_1..s_k) - c``. LaMP profiles
  have no corpus score ``c``; it defaults to 0. The ``1/sqrt(|q|)`` factor of the original is
  the same for every retriever of one input, so it cannot change the choice and is left out.
- ``nqc`` (normalized query commitment, Shtok et al. 2012): ``std(s_1..s_k) / |c|``, with
  ``|c| = 1`` when no corpus score is given (the normalizer is again the same for every
  retriever of an input).
- ``sigma_max`` (Pérez-Iglesias & Araujo 2010; Cummins et al. 2011): the largest standard
  deviation of a prefix, ``max_{m>=2} std(s_1..s_m)``.
- ``sigma_x`` (``σ_x%``, Cummins et al. 2011): ``std`` of the scores that are at least
  ``x`` (default 0.5, i.e. 50%) of the top score ``s_1`` (all of them when ``s_1 <= 0``).

:data:`QPP_SELECTORS` maps a name to ``selector(records, **options) -> list[str]``; ``random``
(seeded, per input independent of the others) is registered there too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from functools import partial

import numpy as np

from ropg.errors import UserError
from ropg.selection.records import PoolRecord, RetrieverResult, pool_names

DEFAULT_SCORE_RULES: dict[str, str] = {"recency": "reciprocal_rank", "none": "zero"}


def _reciprocal_rank(result: RetrieverResult) -> np.ndarray:
    count = max(len(result.item_ids), len(result.retrieval_scores))
    return 1.0 / np.arange(1, count + 1, dtype=np.float64)


def _zero(result: RetrieverResult) -> np.ndarray:
    return np.zeros(max(len(result.item_ids), len(result.retrieval_scores)))


def _stored(result: RetrieverResult) -> np.ndarray:
    return np.asarray(result.retrieval_scores, dtype=np.float64)


SCORE_RULES: dict[str, Callable[[RetrieverResult], np.ndarray]] = {
    "retrieval_scores": _stored,
    "reciprocal_rank": _reciprocal_rank,
    "zero": _zero,
}


def list_scores(
    result: RetrieverResult, name: str, score_rules: Mapping[str, str] | None = None
) -> np.ndarray:
    """The scores QPP sees for retriever ``name``'s list (sorted, best first)."""
    rules = DEFAULT_SCORE_RULES if score_rules is None else score_rules
    rule = rules.get(name, "retrieval_scores")
    if rule not in SCORE_RULES:
        raise UserError(f"unknown QPP score rule {rule!r}; choose one of {sorted(SCORE_RULES)}")
    return -np.sort(-SCORE_RULES[rule](result))


def _top(scores: np.ndarray, k: int | None) -> np.ndarray:
    return scores if k is None else scores[:k]


def wig(scores: Sequence[float], k: int | None = None, corpus_score: float = 0.0) -> float:
    """Weighted information gain: mean of the top-``k`` scores minus the corpus score."""
    top = _top(np.asarray(scores, dtype=np.float64), k)
    return float(top.mean() - corpus_score) if top.size else 0.0


def nqc(scores: Sequence[float], k: int | None = None, corpus_score: float | None = None) -> float:
    """Normalized query commitment: std of the top-``k`` scores over ``|corpus_score|``."""
    top = _top(np.asarray(scores, dtype=np.float64), k)
    if not top.size:
        return 0.0
    normalizer = abs(corpus_score) if corpus_score else 1.0
    return float(top.std() / normalizer)


def sigma_max(scores: Sequence[float], k: int | None = None) -> float:
    """The maximum standard deviation over the prefixes of the ranked list."""
    top = _top(np.asarray(scores, dtype=np.float64), k)
    return max((float(top[:m].std()) for m in range(2, top.size + 1)), default=0.0)


def sigma_x(scores: Sequence[float], k: int | None = None, x: float = 0.5) -> float:
    """``σ_x%``: std of the scores at least ``x`` times the top score."""
    top = _top(np.asarray(scores, dtype=np.float64), k)
    if not top.size:
        return 0.0
    kept = top[top >= x * top[0]] if top[0] > 0 else top
    return float(kept.std())


PREDICTORS: dict[str, Callable[..., float]] = {
    "wig": wig,
    "nqc": nqc,
    "sigma_max": sigma_max,
    "sigma_x": sigma_x,
}


def qpp_values(
    records: Sequence[PoolRecord],
    predictor: str | Callable[..., float],
    score_rules: Mapping[str, str] | None = None,
    **options: float | int | None,
) -> np.ndarray:
    """``(N, P)`` predicted performance of every retriever's list for every record."""
    function = PREDICTORS[predictor] if isinstance(predictor, str) else predictor
    return np.array(
        [
            [
                function(list_scores(result, name, score_rules), **options)
                for name, result in record.retrievers.items()
            ]
            for record in records
        ],
        dtype=np.float64,
    ).reshape(len(records), -1)


def select_by_qpp(
    records: Sequence[PoolRecord],
    predictor: str | Callable[..., float],
    score_rules: Mapping[str, str] | None = None,
    **options: float | int | None,
) -> list[str]:
    """Per record, the retriever whose list the predictor scores highest (first on ties)."""
    if not records:
        return []
    names = pool_names(records)
    values = qpp_values(records, predictor, score_rules, **options)
    return [names[int(i)] for i in np.argmax(values, axis=1)]


def select_random(records: Sequence[PoolRecord], seed: int = 0) -> list[str]:
    """A uniformly random retriever per record; the draw depends only on ``(seed, id)``."""
    choices = []
    for record in records:
        digest = hashlib.blake2b(record.id.encode("utf-8"), digest_size=8).digest()
        rng = np.random.default_rng([seed, int.from_bytes(digest, "little")])
        choices.append(record.names[int(rng.integers(len(record.names)))])
    return choices


def select_best_single(train_records: Sequence[PoolRecord]) -> str:
    """The retriever with the best mean feedback score on ``train_records`` (first on ties)."""
    names = pool_names(train_records)
    means = np.mean([record.scores() for record in train_records], axis=0)
    return names[int(np.argmax(means))]


def select_always(records: Sequence[PoolRecord], name: str) -> list[str]:
    """``name`` for every record (a single retriever as a selector)."""
    if records and name not in pool_names(records):
        raise UserError(f"retriever {name!r} is not in the pool {list(records[0].names)}")
    return [name] * len(records)


QPP_SELECTORS: dict[str, Callable[..., list[str]]] = {
    **{name: partial(select_by_qpp, predictor=name) for name in PREDICTORS},
    "random": select_random,
}
"""``name -> selector(records, **options) -> list[str]``: ``wig``, ``nqc``, ``sigma_max``,
``sigma_x`` (option ``x``, default 0.5 = 50%; all take ``k`` and ``score_rules``) and
``random`` (option ``seed``)."""
