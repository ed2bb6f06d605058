"""The retriever protocol: rank one user's profile documents for one query, or a whole split."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

SMALL_PROFILE = 256  # below this a full stable argsort is cheaper than partitioning


def stable_top_k(scores: np.ndarray, k: int | None) -> np.ndarray:
    """Indices of the ``k`` highest scores, best first; equal scores keep index order.

    The same order as ``np.argsort(-scores, kind="stable")[:k]`` (NaNs last), found by
    partitioning when ``k`` is small next to a long profile.
    """
    n = len(scores)
    if k is None or k >= n or n <= SMALL_PROFILE:
        return np.argsort(-scores, kind="stable")[:k]
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    negated = -scores
    kth = np.partition(negated, k - 1)[k - 1]
    if np.isnan(kth):  # fewer than k numbers: NaNs fill the tail, as in the full sort
        return np.argsort(negated, kind="stable")[:k]
    candidates = np.flatnonzero(negated <= kth)  # every item tied with the k-th is a candidate
    return candidates[np.argsort(negated[candidates], kind="stable")[:k]]


@dataclass(frozen=True)
class RetrievalQuery:
    """One retrieval problem: a query over the documents of one user's profile.

    Attributes:
        qid: the question id.
        query: the query text (``task.query(input)``).
        documents: the retrieval text of each profile item (``task.documents(profile)``).
        profile: the raw profile items, in the same order (recency needs their dates).
        input: the full input text (for retrievers that want it; may be empty).
    """

    qid: str
    query: str
    documents: Sequence[str]
    profile: Sequence[Mapping[str, Any]] = field(default_factory=tuple)
    input: str = ""


@dataclass(frozen=True)
class Ranking:
    """Indices into the profile, best first, with the score of each (higher is better)."""

    indices: np.ndarray
    scores: np.ndarray

    def __post_init__(self) -> None:
        if len(self.indices) != len(self.scores):
            raise ValueError("a ranking needs one score per index")

    def __len__(self) -> int:
        return len(self.indices)

    def top(self, k: int | None) -> Ranking:
        """The first ``k`` entries (all when ``k`` is None)."""
        if k is None:
            return self
        return Ranking(self.indices[:k], self.scores[:k])

    def item_ids(self, profile: Sequence[Mapping[str, Any]]) -> list[str]:
        """The ranked profile items' ids (the reference's ranking file format)."""
        return [str(profile[i]["id"]) for i in self.indices]


@runtime_checkable
class Retriever(Protocol):
    """Anything with ``rank`` and ``rank_batch`` can sit in the pool.

    ``rank_batch`` ranks many queries, each over its own profile; built-ins implement it as
    fast as their method allows. ``top_k=None`` ranks the whole profile.
    """

    name: str

    def rank(self, query: RetrievalQuery, top_k: int | None = None) -> Ranking: ...

    def rank_batch(
        self,
        queries: Sequence[RetrievalQuery],
        top_k: int | None = None,
        show_progress: bool = False,
    ) -> list[Ranking]: ...


class BatchRetriever:
    """Mixin for retrievers that rank a batch at once: ``rank`` is the one-query case of
    ``rank_batch`` (the same code path)."""

    def rank(self, query: RetrievalQuery, top_k: int | None = None) -> Ranking:
        return self.rank_batch([query], top_k)[0]

    def rank_batch(
        self,
        queries: Sequence[RetrievalQuery],
        top_k: int | None = None,
        show_progress: bool = False,
    ) -> list[Ranking]:
        raise NotImplementedError


class BaseRetriever:
    """Convenience base class: implement ``score`` (or ``rank``); batching comes for free.

    A plug-in retriever in ten lines::

        from ropg.retrievers import BaseRetriever

        class LengthRetriever(BaseRetriever):
            name = "longest"

            def score(self, query):
                return [len(doc) for doc in query.documents]

    and use it as ``get_retriever("mypackage.module:LengthRetriever")``.
    """

    name: str = "base"

    def score(self, query: RetrievalQuery) -> Sequence[float]:
        """One score per document; higher is better. Ties keep profile order."""
        raise NotImplementedError

    def rank(self, query: RetrievalQuery, top_k: int | None = None) -> Ranking:
        scores = np.asarray(self.score(query), dtype=np.float64)
        if len(scores) != len(query.documents):
            raise ValueError(
                f"retriever {self.name!r} returned {len(scores)} scores for "
                f"{len(query.documents)} documents"
            )
        order = stable_top_k(scores, top_k)
        return Ranking(order, scores[order])

    def rank_batch(
        self,
        queries: Sequence[RetrievalQuery],
        top_k: int | None = None,
        show_progress: bool = False,
    ) -> list[Ranking]:
        from tqdm.auto import tqdm

        iterator = tqdm(queries, desc=f"rank:{self.name}", disable=not show_progress, unit="q")
        return [self.rank(query, top_k) for query in iterator]
