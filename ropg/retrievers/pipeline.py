"""From LaMP examples to rankings: build retrieval queries, rank a split, export item ids."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from ropg.errors import UserError
from ropg.lamp.data import Example, LampSplit
from ropg.lamp.tasks import Task, get_task
from ropg.retrievers.base import Ranking, RetrievalQuery
from ropg.retrievers.registry import get_retriever

logger = logging.getLogger(__name__)

QUERY_FALLBACKS = ("error", "input")


def make_retriever(name: str, options: Mapping[str, Any] | None = None) -> Any:
    """:func:`~ropg.retrievers.get_retriever`, reporting bad options as a :class:`UserError`."""
    options = dict(options or {})
    try:
        return get_retriever(name, **options)
    except TypeError as error:
        given = ", ".join(sorted(options)) or "none"
        raise UserError(f"retriever {name!r} rejected its options ({given}): {error}") from None


def _examples(split_or_examples: LampSplit | Iterable[Example]) -> list[Example]:
    if isinstance(split_or_examples, LampSplit):
        return split_or_examples.examples
    return list(split_or_examples)


def build_queries(
    split_or_examples: LampSplit | Iterable[Example],
    task: str | Task | None = None,
    use_date: bool = False,
    query_fallback: str = "error",
) -> list[RetrievalQuery]:
    """One :class:`RetrievalQuery` per example: ``task.query(input)`` over its profile.

    Args:
        split_or_examples: a loaded split, or examples.
        task: the task (defaults to the split's).
        use_date: append ``" date: {date}"`` to every document (LAMP_SPEC section 3).
        query_fallback: when an input has no extractable query (its marker is missing):
            ``"error"`` raises a :class:`UserError` naming the example, ``"input"`` uses the
            whole input as the query and logs a warning.
    """
    if query_fallback not in QUERY_FALLBACKS:
        raise UserError(f"unknown query_fallback {query_fallback!r}; choose {QUERY_FALLBACKS}")
    if task is None:
        if not isinstance(split_or_examples, LampSplit):
            raise UserError("build_queries needs a task when given examples")
        task = split_or_examples.task
    task = get_task(task)
    queries = []
    fallbacks = 0
    for example in _examples(split_or_examples):
        query = task.query_fn(example.input)
        if query is None:
            if query_fallback == "error":
                raise UserError(
                    f"{task.name}: example {example.id!r}: no retrieval query can be extracted "
                    "from its input (marker missing); use query_fallback='input' "
                    "(--query-fallback input) to search with the whole input"
                )
            fallbacks += 1
            logger.warning(
                "%s: example %r: no retrieval query in the input; using the whole input",
                task.name,
                example.id,
            )
            query = example.input
        try:
            documents = task.documents(example.profile, use_date)
        except KeyError as error:
            raise UserError(
                f"{task.name}: example {example.id!r}: a profile item lacks field {error}"
            ) from None
        except UserError as error:
            raise UserError(f"example {example.id!r}: {error}") from None
        queries.append(
            RetrievalQuery(
                qid=example.id,
                query=query,
                documents=documents,
                profile=example.profile,
                input=example.input,
            )
        )
    if fallbacks:
        logger.warning("%d example(s) searched with their whole input", fallbacks)
    return queries


def rank_queries(
    retriever: Any,
    queries: Sequence[RetrievalQuery],
    top_k: int | None = None,
    show_progress: bool = True,
) -> dict[str, Ranking]:
    """``{qid: Ranking}`` for ``queries``, through the retriever's ``rank_batch``."""
    if top_k is not None and (isinstance(top_k, bool) or top_k < 0):
        raise UserError(f"top_k must be a non-negative integer or None, got {top_k!r}")
    rankings = retriever.rank_batch(queries, top_k=top_k, show_progress=show_progress)
    if len(rankings) != len(queries):
        raise UserError(
            f"retriever {getattr(retriever, 'name', retriever)!r} returned {len(rankings)} "
            f"rankings for {len(queries)} queries"
        )
    result = {}
    for query, ranking in zip(queries, rankings):
        ranking = ranking.top(top_k)
        indices = np.asarray(ranking.indices)
        if indices.size and (indices.min() < 0 or indices.max() >= len(query.documents)):
            raise UserError(
                f"retriever {getattr(retriever, 'name', retriever)!r} ranked an item outside "
                f"the profile of query {query.qid!r}"
            )
        result[query.qid] = ranking
    return result


def rank_split(
    retriever: Any,
    split: LampSplit | Iterable[Example],
    task: str | Task | None = None,
    top_k: int | None = None,
    use_date: bool = False,
    show_progress: bool = True,
    query_fallback: str = "error",
) -> dict[str, Ranking]:
    """Rank every example's profile: ``{question id: Ranking}`` (indices into the profile)."""
    queries = build_queries(split, task, use_date=use_date, query_fallback=query_fallback)
    return rank_queries(retriever, queries, top_k, show_progress)


def rankings_to_ids(
    rankings: Mapping[str, Ranking],
    split_or_examples: LampSplit | Iterable[Example],
) -> dict[str, list[str]]:
    """``{question id: [profile item ids, best first]}``, the reference's ranking file format."""
    by_id = {example.id: example for example in _examples(split_or_examples)}
    result = {}
    for qid, ranking in rankings.items():
        if qid not in by_id:
            raise UserError(f"ranking for unknown question id {qid!r}")
        result[qid] = ranking.item_ids(by_id[qid].profile)
    return result


def reorder_profiles(
    split_or_examples: LampSplit | Iterable[Example],
    rankings: Mapping[str, Ranking],
) -> list[dict[str, Any]]:
    """Question records (``id``, ``input``, ``profile``, ``user_id`` when known) with each
    profile reordered to its ranking, best first (items a ranking leaves out are dropped)."""
    records = []
    for example in _examples(split_or_examples):
        if example.id not in rankings:
            raise UserError(f"no ranking for question {example.id!r}")
        record: dict[str, Any] = {"id": example.id, "input": example.input}
        record["profile"] = [example.profile[i] for i in rankings[example.id].indices]
        if example.user_id is not None:
            record["user_id"] = example.user_id
        records.append(record)
    return records
