"""Simple retrievers: ``none``, ``random``, ``recency`` and reciprocal rank fusion (``rrf``)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import numpy as np

from ropg.errors import DataError, UserError
from ropg.retrievers.base import (
    BaseRetriever,
    BatchRetriever,
    Ranking,
    RetrievalQuery,
    stable_top_k,
)
from ropg.retrievers.registry import get_retriever, register_retriever

logger = logging.getLogger(__name__)

_EMPTY = Ranking(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))


@register_retriever("none")
class NoRetriever(BaseRetriever):
    """No retrieval: every ranking is empty (the non-personalized baseline)."""

    name = "none"

    def score(self, query: RetrievalQuery) -> Sequence[float]:
        return [0.0] * len(query.documents)

    def rank(self, query: RetrievalQuery, top_k: int | None = None) -> Ranking:
        return _EMPTY


@register_retriever("random")
class RandomRetriever(BaseRetriever):
    """A random order, the same for a given ``(seed, query id)`` on every run and machine.

    The generator is seeded with ``seed`` and a BLAKE2 hash of the question id, so the order of
    one question does not depend on which other questions are ranked with it.
    """

    name = "random"

    def __init__(self, seed: int = 0) -> None:
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise UserError(f"random: seed must be a non-negative integer, got {seed!r}")
        self.seed = seed

    def score(self, query: RetrievalQuery) -> np.ndarray:
        digest = hashlib.blake2b(str(query.qid).encode("utf-8"), digest_size=8).digest()
        rng = np.random.default_rng([self.seed, int.from_bytes(digest, "little")])
        return rng.random(len(query.documents))


def date_key(value: Any) -> tuple[int, ...]:
    """The sort key of a LaMP date, as the reference computes it where it can.

    The reference sorts by ``tuple(map(int, str(date).split("-")))``: ``"2011-05-03"`` ->
    ``(2011, 5, 3)``, ``"2011-05"`` -> ``(2011, 5)``, ``2011`` -> ``(2011,)`` (a shorter tuple
    sorts before the longer ones it starts). ISO date-times, which the reference cannot parse,
    give ``(year, month, day, hour, minute, second, microsecond)`` (UTC when a zone is given).

    Raises:
        ValueError: the value is not a date in one of these shapes.
    """
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not a date: {value!r}")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"not a date: {value!r}")
        value = int(value)
    text = str(value)
    try:
        return tuple(map(int, text.split("-")))
    except ValueError:
        pass
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return (
        moment.year, moment.month, moment.day,
        moment.hour, moment.minute, moment.second, moment.microsecond,
    )  # fmt: skip


@register_retriever("recency")
class RecencyRetriever(BaseRetriever):
    """Newest first by the profile items' ``date``, in exactly the reference's order.

    The reference sorts the profile by :func:`date_key` ascending (Python's stable sort) and
    reverses it, so items with equal dates come out last profile position first. Scores are
    ``N - rank`` (the newest item scores ``N``).
    """

    name = "recency"

    def rank(self, query: RetrievalQuery, top_k: int | None = None) -> Ranking:
        if len(query.profile) != len(query.documents):
            raise UserError(
                f"recency: query {query.qid!r} has {len(query.profile)} profile items for "
                f"{len(query.documents)} documents (it needs the profile items' dates)"
            )
        keys = []
        for position, item in enumerate(query.profile):
            where = {"record_id": query.qid, "field": f"profile[{position}].date"}
            if "date" not in item:  # the file is named by whoever knows it (naming_file)
                raise DataError(None, f"recency: item {item.get('id')!r}: no 'date'", **where)
            try:
                keys.append(date_key(item["date"]))
            except ValueError:
                raise DataError(
                    None,
                    f"recency: item {item.get('id')!r}: cannot parse date {item['date']!r} "
                    "(expected YYYY-MM-DD, YYYY-MM, YYYY or an ISO date-time)",
                    **where,
                ) from None
        ascending = sorted(range(len(keys)), key=keys.__getitem__)
        order = np.asarray(ascending[::-1], dtype=np.int64)
        scores = np.arange(len(order), 0, -1, dtype=np.float64)
        return Ranking(order, scores).top(top_k)


@register_retriever("rrf")
class RRFRetriever(BatchRetriever, BaseRetriever):
    """Reciprocal rank fusion: ``score(d) = sum over retrievers of 1 / (k + rank(d))``.

    ``rank`` counts from 1; a document a retriever does not rank adds nothing, and documents no
    retriever ranks are left out. Ties keep profile order.

    Args:
        retrievers: the retrievers to fuse: names (``"bm25"``, ``"module:Class"``, entry
            points), retriever objects, or mappings ``{"name": ..., **options}``.
        k: the RRF constant (60 in Cormack et al., 2009).
    """

    name = "rrf"

    def __init__(self, retrievers: Sequence[Any] = ("bm25", "recency"), k: float = 60) -> None:
        if isinstance(retrievers, (str, Mapping)) or not isinstance(retrievers, Sequence):
            raise UserError(f"rrf: retrievers must be a list, got {retrievers!r}")
        if not retrievers:
            raise UserError("rrf: give at least one retriever")
        if isinstance(k, bool) or not isinstance(k, (int, float)) or k < 0:
            raise UserError(f"rrf: k must be a non-negative number, got {k!r}")
        self.k = float(k)
        self.retrievers = [_build(spec) for spec in retrievers]

    def rank_batch(
        self,
        queries: Sequence[RetrievalQuery],
        top_k: int | None = None,
        show_progress: bool = False,
    ) -> list[Ranking]:
        runs = [r.rank_batch(queries, None, show_progress) for r in self.retrievers]
        fused = []
        for position, query in enumerate(queries):
            scores = np.zeros(len(query.documents))
            ranked = np.zeros(len(query.documents), dtype=bool)
            for run in runs:
                indices = np.asarray(run[position].indices, dtype=np.int64)
                scores[indices] += 1.0 / (self.k + np.arange(1, len(indices) + 1))
                ranked[indices] = True
            candidates = np.flatnonzero(ranked)
            order = candidates[stable_top_k(scores[candidates], top_k)]
            fused.append(Ranking(order, scores[order]))
        return fused


def _build(spec: Any) -> Any:
    if isinstance(spec, str):
        return get_retriever(spec)
    if isinstance(spec, Mapping):
        options = dict(spec)
        name = options.pop("name", None)
        if not isinstance(name, str):
            raise UserError(f"rrf: a retriever given as a mapping needs a 'name': {spec!r}")
        options.update(options.pop("options", None) or {})
        return get_retriever(name, **options)
    if hasattr(spec, "rank") and hasattr(spec, "rank_batch"):
        return spec
    raise UserError(f"rrf: cannot use {spec!r} as a retriever")
