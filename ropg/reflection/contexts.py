"""Which profile items the reflection model sees: a pool retriever over a query built from the
input and the generic answer, or rankings computed elsewhere.

The query kinds: ``input`` (the task's retrieval query, as every LaMP method uses),
``generic`` (g alone) and ``input+generic`` (the two joined by a space: RPO's ``q ⊕ g``).
A :class:`ContextSource` either ranks with a retriever (any pool name: bm25, contriever,
dense over an ROPG-trained encoder, random, none, rrf, plug-ins) or replays a mapping
``{question id: [profile indices, best first]}`` (e.g. RSPG's choice per input, a ROPG
ranking file), so every row of the retrieval x reflection grid is one source.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ropg.errors import DataError, UserError
from ropg.reflection.config import QUERY_KINDS
from ropg.retrievers.base import RetrievalQuery
from ropg.utils.io import atomic_write_json

logger = logging.getLogger(__name__)

Rankings = dict[str, list[int]]


def query_text(task: Any, input_text: str, generic: str, kind: str) -> str:
    """The retrieval query of one input: ``input``, ``generic`` or ``input+generic``."""
    if kind not in QUERY_KINDS:
        raise UserError(f"unknown query kind {kind!r}; choose one of {QUERY_KINDS}")
    query = task.find_query(input_text) or input_text
    if kind == "input":
        return query
    if kind == "generic":
        return generic.strip() or query
    return f"{query} {generic}".strip()


def _indices(value: Any, where: str, qid: str) -> list[int]:
    if isinstance(value, Mapping):
        value = value.get("indices")
    elif hasattr(value, "indices"):
        value = value.indices
    try:
        return [int(index) for index in value]
    except (TypeError, ValueError):
        raise DataError(
            where, "a ranking must be a list of profile indices", record_id=qid
        ) from None


def normalize_rankings(rankings: Mapping[str, Any], where: str = "rankings") -> Rankings:
    """``{qid: [int, ...]}`` from lists, arrays, :class:`~ropg.retrievers.Ranking`\\ s or
    ``{"indices": [...]}`` entries."""
    return {str(qid): _indices(value, where, str(qid)) for qid, value in rankings.items()}


def load_rankings(path: str | os.PathLike[str]) -> Rankings:
    """A rankings file: ``{qid: [indices]}``, or the benchmark's ``{"rankings": {qid:
    {"indices": [...]}}}`` (extra header keys ignored)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(path, "rankings file not found") from None
    except (OSError, ValueError) as error:
        raise DataError(path, f"unreadable rankings file ({error})") from None
    if isinstance(data, Mapping) and isinstance(data.get("rankings"), Mapping):
        data = data["rankings"]
    if not isinstance(data, Mapping):
        raise DataError(path, "expected a mapping of question ids to rankings")
    return normalize_rankings(data, str(path))


def top_indices(rankings: Mapping[str, Sequence[int]], qid: str, k: int) -> list[int]:
    """The first ``k`` ranked profile indices of a question (none when ``k == 0``); a question
    without a ranking is a :class:`~ropg.errors.DataError`, never a silent "no items"."""
    if k == 0:
        return []
    if qid not in rankings:
        raise DataError("rankings", "no ranking for this question", record_id=qid)
    return [int(i) for i in rankings[qid]][:k]


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except TypeError:
        return str(value)


@dataclass
class ContextSource:
    """Ranks the profile of each input for the reflection model.

    Build one with :func:`retriever_source` or :func:`rankings_source`.

    Attributes:
        name: a label (the grid's row name).
        retriever: a retriever with ``rank_batch`` (None when ``rankings`` is given).
        rankings: fixed rankings by question id.
        query: the query kind (retrievers only).
        use_date: documents with dates (retrievers only).
        description: what decides the rankings (for job headers).
    """

    name: str
    retriever: Any = None
    rankings: Rankings | None = None
    query: str = "input+generic"
    use_date: bool = False
    description: dict[str, Any] = field(default_factory=dict)

    def rank(
        self,
        task: Any,
        examples: Sequence[Any],
        generics: Mapping[str, str],
        depth: int | None,
    ) -> Rankings:
        """``{qid: [profile indices]}`` (at most ``depth`` each) for ``examples``."""
        if self.rankings is not None:
            return {example.id: self._fixed(example)[:depth] for example in examples}
        from ropg.retrievers.pipeline import rank_queries

        queries = []
        for example in examples:
            text = query_text(task, example.input, generics.get(example.id, ""), self.query)
            documents = task.documents(example.profile, self.use_date)
            queries.append(
                RetrievalQuery(example.id, text, documents, example.profile, example.input)
            )
        ranked = rank_queries(self.retriever, queries, top_k=depth, show_progress=False)
        return {qid: [int(i) for i in ranking.indices] for qid, ranking in ranked.items()}

    def _fixed(self, example: Any) -> list[int]:
        assert self.rankings is not None
        if example.id not in self.rankings:
            raise DataError(self.name, "no ranking for this question", record_id=example.id)
        indices = self.rankings[example.id]
        if any(i < 0 or i >= len(example.profile) for i in indices):
            raise DataError(
                self.name, "a ranked index is outside the profile", record_id=example.id
            )
        return list(indices)


def retriever_source(
    name: str,
    options: Mapping[str, Any] | None = None,
    query: str = "input+generic",
    use_date: bool = False,
    retriever: Any = None,
) -> ContextSource:
    """A source that ranks with the pool retriever ``name`` (or the given ``retriever``)."""
    if query not in QUERY_KINDS:
        raise UserError(f"unknown query kind {query!r}; choose one of {QUERY_KINDS}")
    if retriever is None:
        from ropg.retrievers.pipeline import make_retriever

        retriever = make_retriever(name, options)
    description = {
        "retriever": name,
        "options": {str(k): _jsonable(v) for k, v in (options or {}).items()},
        "query": query,
        "use_date": use_date,
    }
    return ContextSource(name, retriever, None, query, use_date, description)


def rankings_source(
    rankings: Mapping[str, Any] | str | os.PathLike[str], name: str | None = None
) -> ContextSource:
    """A source that replays rankings: a mapping or a rankings file."""
    if isinstance(rankings, (str, os.PathLike)):
        label = name or Path(rankings).stem
        fixed = load_rankings(rankings)
    else:
        label = name or "rankings"
        fixed = normalize_rankings(rankings)
    text = json.dumps(fixed, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    return ContextSource(label, rankings=fixed, description={"rankings": label, "sha256": digest})


def retrieve_contexts(
    split: Any,
    generics: Mapping[str, str],
    source: ContextSource,
    depth: int,
    path: str | os.PathLike[str],
    extra_header: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Rank a split for the reflection model and write ``{header, rankings}`` to ``path``.

    A file with the same header is reused as it is (ranking is deterministic). Returns the
    facts: ``{"path", "examples", "depth", "reused"}``.
    """
    from ropg.reflection.jobs import split_header

    path = Path(path)
    generic_digest = hashlib.sha256(
        json.dumps([generics.get(e.id, "") for e in split], ensure_ascii=False).encode("utf-8")
    ).hexdigest()[:16]
    header = {
        **split_header(split),
        "source": source.description,
        "depth": depth,
        "generic": generic_digest,
        **dict(extra_header or {}),
    }
    if path.is_file():
        try:
            existing = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            existing = {}
        if existing.get("header") == json.loads(json.dumps(header)):
            return {"path": str(path), "examples": len(split), "depth": depth, "reused": True}
    rankings = source.rank(split.task, list(split), generics, depth)
    atomic_write_json(path, {"header": header, "rankings": rankings})
    logger.info("ranked %d inputs with %s -> %s", len(split), source.name, path)
    return {"path": str(path), "examples": len(split), "depth": depth, "reused": False}
