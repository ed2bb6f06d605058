"""From LaMP examples to rankings: build retrieval queries, rank a split, export item ids."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from itertools import chain
from operator import itemgetter
from typing import Any

import numpy as np

from ropg.errors import UserError, naming_file
from ropg.lamp.data import Example, LampSplit
from ropg.lamp.tasks import Task, get_task
from ropg.retrievers.base import Ranking, RetrievalQuery
from ropg.retrievers.documents import JoinedDocuments
from ropg.retrievers.registry import get_retriever

logger = logging.getLogger(__name__)

QUERY_FALLBACKS = ("error", "input")
_STR_ONLY = frozenset({str})
_DATE_LABEL = "date:"  # Task.document's " date: {date}" suffix, as two whitespace-split parts


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
        use_date: append ``" date: {date}"`` to every document (docs/lamp-fidelity.md).
        query_fallback: when an input has no extractable query (its marker is missing):
            ``"error"`` raises a :class:`UserError` naming the example, ``"input"`` uses the
            whole input as the query and logs a warning.
    """
    return _build_queries(split_or_examples, task, use_date, query_fallback, join=True)


def _build_queries(
    split_or_examples: LampSplit | Iterable[Example],
    task: str | Task | None,
    use_date: bool,
    query_fallback: str,
    join: bool,
) -> list[RetrievalQuery]:
    """:func:`build_queries`; ``join=False`` leaves documents of several fields as
    :class:`~ropg.retrievers.documents.JoinedDocuments` (joined when a retriever reads them)."""
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
        queries.append(
            RetrievalQuery(
                qid=example.id,
                query=query,
                documents=_example_documents(task, example, use_date, join),
                profile=example.profile,
                input=example.input,
            )
        )
    if fallbacks:
        logger.warning("%d example(s) searched with their whole input", fallbacks)
    return queries


def _example_documents(
    task: Task, example: Example, use_date: bool, join: bool
) -> list[str] | JoinedDocuments:
    """``task.documents(example.profile, use_date)``, from the fields in one pass when every
    item has them, else from the task itself (which reports the problem)."""
    parts = _profile_parts(task, example.profile, use_date)
    if parts is not None:
        values, width = parts
        if width == 1:
            return values
        documents = JoinedDocuments(values, width)
        return documents.texts() if join else documents
    try:
        return task.documents(example.profile, use_date)
    except KeyError as error:
        raise UserError(
            f"{task.name}: example {example.id!r}: a profile item lacks field {error}"
        ) from None
    except UserError as error:
        raise UserError(f"example {example.id!r}: {error}") from None


def _profile_parts(
    task: Task, profile: Sequence[Mapping[str, Any]], use_date: bool = False
) -> tuple[list[str], int] | None:
    """``(parts, width)`` with ``" ".join(parts[i * width : (i + 1) * width])`` equal to
    ``task.document(profile[i], use_date)``: the task's document fields of every item (``str``
    of each), then ``"date:"`` and the date when ``use_date``. None when an item lacks a field
    or is no mapping (``task.documents`` then says what is wrong).
    """
    fields = task.document_fields
    keys = (*fields, "date") if use_date else fields
    try:
        if len(keys) == 1:
            values = list(map(itemgetter(keys[0]), profile))
        else:
            values = list(chain.from_iterable(map(itemgetter(*keys), profile)))
    except Exception:  # task.documents reports (or raises) it itself
        return None
    width = len(keys)
    if values and set(map(type, values)) != _STR_ONLY:
        values = [str(value) for value in values]
        if use_date:  # the date is formatted as the f-string of Task.document does it
            values[width - 1 :: width] = [format(item["date"]) for item in profile]
    if not use_date:
        return values, width
    count = len(profile)
    parts: list[str] = [_DATE_LABEL] * (count * (width + 1))
    for column in range(len(fields)):
        parts[column :: width + 1] = values[column::width]
    parts[width :: width + 1] = values[width - 1 :: width]
    return parts, width + 1


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
    queries = _build_queries(split, task, use_date, query_fallback, join=False)
    with naming_file(getattr(split, "questions_path", None)):  # a record's error names its file
        return rank_queries(retriever, queries, top_k, show_progress)


def rankings_to_ids(
    rankings: Mapping[str, Ranking],
    split_or_examples: LampSplit | Iterable[Example],
) -> dict[str, list[str]]:
    """``{question id: [profile item ids, best first]}``, the reference's ranking file format."""
    by_id = {example.id: example for example in _examples(split_or_examples)}
    result = {}
    duplicated = []
    for qid, ranking in rankings.items():
        if qid not in by_id:
            raise UserError(f"ranking for unknown question id {qid!r}")
        ids = ranking.item_ids(by_id[qid].profile)
        if len(set(ids)) != len(ids):
            duplicated.append(qid)
        result[qid] = ids
    if duplicated:
        logger.warning(
            "%d question(s) have profile items with duplicate ids (e.g. %r): their rankings "
            "repeat an id, and item ids alone cannot tell those items apart",
            len(duplicated), duplicated[0],
        )  # fmt: skip
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
