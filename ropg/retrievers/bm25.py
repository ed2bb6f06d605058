"""BM25 over each user's profile, exactly as the LaMP code ranks it, only much faster.

The LaMP reference builds ``rank_bm25.BM25Okapi([doc.split() for doc in profile])`` for every
question and takes ``get_top_n(query.split(), profile, n)``. :class:`BM25Retriever` offers

* ``implementation="reference"``: that very code (rank-bm25), one index per query;
* ``implementation="fast"`` (default): the same numbers, bit for bit, from a batched
  implementation: a compiled tokenizer/counter (numba, when installed: ``backend="numba"``) or a
  plain Python/numpy one (``backend="python"``), and vectorized numpy scoring that repeats
  rank-bm25's floating-point operations in the same order.

Scoring (Okapi, rank-bm25 0.2.2): for a profile of ``N`` documents of lengths ``dl`` (whitespace
tokens, case-sensitive), ``avgdl = sum(dl) / N``, a term in ``n`` documents has
``idf = log(N - n + 0.5) - log(n + 0.5)``; negative idfs (terms in more than half of the
documents) are replaced by ``epsilon * mean(idf over the profile's vocabulary)``. A query token
(repeats count again) adds ``idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * dl / avgdl))``.

``idf="corrected"`` uses Lucene's non-negative ``log(1 + (N - n + 0.5) / (n + 0.5))`` instead:
with the Okapi idf a term in exactly half of a small profile scores 0, and the epsilon floor can
be 0 or negative (when most terms are common), so matching documents may rank below or with
non-matching ones. Not what LaMP used; an option for new experiments.

Ranking order: both implementations order documents with rank-bm25's own rule,
``np.argsort(scores)[::-1]``, on bit-identical scores, so they agree exactly, ties included.
numpy's default sort is not stable: up to 16 scores it is an insertion sort, so tied documents
come out last profile position first; beyond that the order of ties depends on the other scores.

Two degenerate profiles, where rank-bm25 fails, are defined here: an empty profile gives an
empty ranking (rank-bm25 divides by zero), and a profile whose documents are all empty scores
every document 0 (rank-bm25 divides by zero computing the average idf).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any

import numpy as np

from ropg.errors import UserError
from ropg.retrievers.base import BaseRetriever, BatchRetriever, Ranking, RetrievalQuery
from ropg.retrievers.bm25_index import (
    BACKENDS,
    UserStats,
    index_users,
    job_backend,
    log_half_table,
    resolve_backend,
)
from ropg.retrievers.registry import register_retriever

logger = logging.getLogger(__name__)

IMPLEMENTATIONS = ("fast", "reference")
IDF_VARIANTS = ("okapi", "corrected")


@dataclass(frozen=True)
class BM25Config:
    """BM25 options (the defaults are rank-bm25's and the LaMP code's).

    Attributes:
        implementation: ``"fast"`` (batched, same scores) or ``"reference"`` (rank-bm25).
        k1, b, epsilon: the Okapi parameters (``epsilon`` floors negative idfs).
        idf: ``"okapi"`` (rank-bm25's, with the epsilon floor) or ``"corrected"`` (Lucene's
            non-negative ``log(1 + (N - n + 0.5) / (n + 0.5))``).
        backend: for ``fast``: ``"auto"`` (numba if installed; a job of under 100,000
            documents is indexed in Python until the compiled kernel is loaded, see
            :data:`~ropg.retrievers.bm25_index.AUTO_NUMBA_MIN_DOCUMENTS`), ``"numba"`` or
            ``"python"``: the same scores either way.
        batch_docs: ``fast`` indexes users in batches of about this many documents.
        n_threads: ``fast`` indexes and scores this many batches at once (the numba kernel
            releases the GIL; numpy mostly does); ``None``: one per CPU core, at most 8.
            Results do not depend on it.
    """

    implementation: str = "fast"
    k1: float = 1.5
    b: float = 0.75
    epsilon: float = 0.25
    idf: str = "okapi"
    backend: str = "auto"
    batch_docs: int = 2048
    n_threads: int | None = None

    def __post_init__(self) -> None:
        if self.implementation not in IMPLEMENTATIONS:
            raise UserError(
                f"bm25: unknown implementation {self.implementation!r}; choose {IMPLEMENTATIONS}"
            )
        if self.idf not in IDF_VARIANTS:
            raise UserError(f"bm25: unknown idf {self.idf!r}; choose one of {IDF_VARIANTS}")
        if self.backend not in BACKENDS:
            raise UserError(f"bm25: unknown backend {self.backend!r}; choose one of {BACKENDS}")
        for name in ("k1", "b", "epsilon"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise UserError(f"bm25: {name} must be a number, got {value!r}")
            object.__setattr__(self, name, float(value))
        if self.n_threads is None:
            object.__setattr__(self, "n_threads", min(os.cpu_count() or 1, 8))
        for name in ("batch_docs", "n_threads"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UserError(f"bm25: {name} must be a positive integer, got {value!r}")


def reference_order(scores: np.ndarray, top_k: int | None = None) -> np.ndarray:
    """rank-bm25's ``get_top_n`` order: ``np.argsort(scores)[::-1][:top_k]``."""
    return np.argsort(scores)[::-1][:top_k]


# -- idf: math.log values, as rank-bm25 computes them, for bit-identical scores --------------
@lru_cache(maxsize=4096)
def _corrected_table(n_docs: int) -> np.ndarray:
    """``math.log(1 + (N - n + 0.5) / (n + 0.5))`` for ``n`` in ``0..N``."""
    return np.array([_corrected_idf(n_docs, n) for n in range(n_docs + 1)], dtype=np.float64)


def _corrected_idf(n_docs: int, freq: int) -> float:
    return math.log(1 + (n_docs - freq + 0.5) / (freq + 0.5))


def _column_idf(stats: UserStats, config: BM25Config) -> np.ndarray:
    """The idf of each distinct query token, as rank-bm25's ``idf.get(q) or 0`` gives it."""
    n_docs, df = len(stats.doc_len), stats.col_df
    if config.idf == "corrected":
        idf = _corrected_table(n_docs)[df]
    else:
        logs = log_half_table(n_docs)
        idf = logs[n_docs - df] - logs[df]
        negative = idf < 0
        if negative.any():  # rank-bm25's floor: epsilon * the average idf of the profile
            idf[negative] = config.epsilon * (stats.idf_sum / stats.n_terms)
    idf[df == 0] = 0.0  # not in the profile
    return idf


def score_user(stats: UserStats, config: BM25Config) -> np.ndarray:
    """BM25 scores of one profile's documents, bit-identical to rank-bm25's ``get_scores``."""
    n_docs = len(stats.doc_len)
    total = int(stats.doc_len.sum())
    if n_docs == 0 or total == 0 or len(stats.qcol) == 0:
        return np.zeros(n_docs)
    idf_cols = _column_idf(stats, config)
    k1, b = config.k1, config.b
    avgdl = total / n_docs
    norm = k1 * (1 - b + b * stats.doc_len / avgdl)
    tf = stats.tf[:, stats.qcol]  # documents x query tokens
    with np.errstate(divide="ignore", invalid="ignore"):
        parts = idf_cols[stats.qcol] * (tf * (k1 + 1) / (tf + norm[:, None]))
    # rank-bm25 adds the query tokens' contributions one by one to zeros: a sequential cumsum,
    # plus 0.0 to turn a leading -0.0 into 0.0 as ``zeros + x`` does.
    return np.cumsum(parts, axis=1)[:, -1] + 0.0


# -- the reference: rank-bm25 itself --------------------------------------------------------
def reference_scores(query: RetrievalQuery, config: BM25Config) -> np.ndarray:
    """Scores from rank-bm25, built the LaMP way (``[doc.split() for doc in documents]``)."""
    from rank_bm25 import BM25Okapi

    corpus = [document.split() for document in query.documents]
    if not corpus:
        return np.zeros(0)
    if not any(corpus):
        return np.zeros(len(corpus))
    index = BM25Okapi(corpus, k1=config.k1, b=config.b, epsilon=config.epsilon)
    if config.idf == "corrected":
        index.idf = {word: _corrected_idf(index.corpus_size, freq) for word, freq in _nd(corpus)}
    return np.asarray(index.get_scores(query.query.split()), dtype=np.float64)


def _nd(corpus: list[list[str]]) -> list[tuple[str, int]]:
    """(term, document frequency) in rank-bm25's order (first occurrence)."""
    counts: dict[str, int] = {}
    for document in corpus:
        for word in dict.fromkeys(document):
            counts[word] = counts.get(word, 0) + 1
    return list(counts.items())


@register_retriever("bm25")
class BM25Retriever(BatchRetriever, BaseRetriever):
    """BM25 over each query's own profile; options as in :class:`BM25Config`.

    ``get_retriever("bm25")`` is the fast implementation with rank-bm25's parameters;
    ``get_retriever("bm25", implementation="reference")`` runs rank-bm25 itself.
    """

    name = "bm25"

    def __init__(self, **options: Any) -> None:
        self.config = BM25Config(**options)
        self.backend = (
            resolve_backend(self.config.backend)
            if self.config.implementation == "fast"
            else "rank-bm25"
        )

    def __repr__(self) -> str:
        return f"BM25Retriever({self.config}, backend={self.backend!r})"

    def score(self, query: RetrievalQuery) -> np.ndarray:
        """One BM25 score per profile document (profile order)."""
        return self.score_batch([query])[0]

    def score_batch(
        self, queries: Sequence[RetrievalQuery], show_progress: bool = False
    ) -> list[np.ndarray]:
        """Scores of many queries, each over its own profile."""
        from tqdm.auto import tqdm

        progress = tqdm(
            total=len(queries), desc=f"rank:{self.name}", disable=not show_progress, unit="q"
        )
        results: list[np.ndarray] = []
        with progress:
            if self.config.implementation == "reference":
                for query in queries:
                    results.append(reference_scores(query, self.config))
                    progress.update(1)
                return results
            batches = _batches(queries, self.config.batch_docs)
            documents = sum(len(query.documents) for query in queries)
            backend = job_backend(self.config.backend, self.backend, documents)
            score = partial(self._score_batch_fast, backend=backend)
            if self.config.n_threads > 1 and len(batches) > 1:
                from concurrent.futures import ThreadPoolExecutor

                with ThreadPoolExecutor(self.config.n_threads) as pool:
                    for scores in pool.map(score, batches):
                        results.extend(scores)
                        progress.update(len(scores))
            else:
                for batch in batches:
                    results.extend(score(batch))
                    progress.update(len(batch))
        return results

    def _score_batch_fast(self, batch: Sequence[RetrievalQuery], backend: str) -> list[np.ndarray]:
        return [score_user(stats, self.config) for stats in index_users(batch, backend)]

    def rank_batch(
        self,
        queries: Sequence[RetrievalQuery],
        top_k: int | None = None,
        show_progress: bool = False,
    ) -> list[Ranking]:
        """Rank every query's profile, best first, ties in rank-bm25's order."""
        rankings = []
        for scores in self.score_batch(queries, show_progress):
            order = reference_order(scores, top_k)
            rankings.append(Ranking(order, scores[order]))
        return rankings


def _batches(queries: Sequence[RetrievalQuery], batch_docs: int) -> list[Sequence[RetrievalQuery]]:
    """Consecutive groups of queries with about ``batch_docs`` documents each."""
    batches: list[Sequence[RetrievalQuery]] = []
    start, size = 0, 0
    for index, query in enumerate(queries):
        size += len(query.documents) + 1
        if size >= batch_docs:
            batches.append(queries[start : index + 1])
            start, size = index + 1, 0
    if start < len(queries):
        batches.append(queries[start:])
    return batches
