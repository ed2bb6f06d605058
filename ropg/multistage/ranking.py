"""Retrieve and rank: the paper's four strategies over a user's earlier documents.

The query is the immediate context. A strategy retrieves **documents** (a profile item's title
and text) or **snippets** (:mod:`ropg.multistage.snippets`) with a retriever of the pool:

- ``RankDocBM25``: documents, the lexical retriever (BM25);
- ``RankDocDense``: documents, the dense retriever;
- ``RankSnippet``: snippets, the dense retriever; the entries are snippets;
- ``RankDocBySnpt``: snippets, the dense retriever; each document scores its best snippet's
  score and the entries are the documents in that order (equal scores keep profile order;
  documents without any text have no snippet and are left out).

The ranked entries' texts are joined by ``separator`` and the result cut at ``max_chars``
(2,500) characters: :func:`concatenate`. Which retriever is "lexical" and which "dense" is a
setting (any retriever of the pool: a built-in name, ``module:Class`` or an entry point).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ropg.errors import UserError
from ropg.multistage.snippets import SNIPPET_CHARS, snippets
from ropg.retrievers.base import RetrievalQuery

MAX_CHARS = 2500


@dataclass(frozen=True)
class Strategy:
    """One ranking strategy: which unit is retrieved, by which retriever role, what is ranked."""

    name: str
    unit: str  # "document" or "snippet"
    role: str  # "lexical" or "dense"
    by_best_snippet: bool = False  # rank documents by their best snippet


STRATEGIES: dict[str, Strategy] = {}


def register_strategy(strategy: Strategy) -> Strategy:
    """Make a strategy available by its name."""
    STRATEGIES[strategy.name] = strategy
    return strategy


register_strategy(Strategy("RankDocBM25", "document", "lexical"))
register_strategy(Strategy("RankDocDense", "document", "dense"))
register_strategy(Strategy("RankSnippet", "snippet", "dense"))
register_strategy(Strategy("RankDocBySnpt", "snippet", "dense", by_best_snippet=True))


def get_strategy(name: str) -> Strategy:
    try:
        return STRATEGIES[name]
    except KeyError:
        raise UserError(
            f"unknown ranking strategy {name!r}; choose one of {list(STRATEGIES)}"
        ) from None


@dataclass
class RankedEntry:
    """One ranked entry: a profile document (and snippet), its score and the characters of it
    that made it into the concatenated text."""

    doc: int
    score: float
    text: str
    snippet: int | None = None
    chars: int = 0

    def record(self) -> dict[str, Any]:
        record: dict[str, Any] = {"doc": self.doc, "score": self.score, "chars": self.chars}
        if self.snippet is not None:
            record["snippet"] = self.snippet
        return record


@dataclass
class RankedContext:
    """The ranked entries of one example and their concatenation (cut at ``max_chars``)."""

    id: str
    entries: list[RankedEntry] = field(default_factory=list)
    text: str = ""

    def entry_texts(self) -> list[str]:
        """The part of each entry that is in :attr:`text`."""
        return [entry.text[: entry.chars] for entry in self.entries]


def concatenate(
    texts: Sequence[str], max_chars: int = MAX_CHARS, separator: str = " "
) -> tuple[str, list[int]]:
    """``texts`` joined by ``separator`` and cut at ``max_chars`` characters; also how many
    characters of each text are in the result (texts past the cut are not listed)."""
    if max_chars < 0:
        raise UserError("max_chars must be >= 0")
    parts: list[str] = []
    used: list[int] = []
    length = 0
    for text in texts:
        if length >= max_chars:
            break
        if parts:
            parts.append(separator[: max_chars - length])
            length += len(parts[-1])
            if length >= max_chars:
                break
        piece = text[: max_chars - length]
        parts.append(piece)
        used.append(len(piece))
        length += len(piece)
    return "".join(parts), used


def document_text(item: Mapping[str, Any]) -> str:
    """A profile item's retrieval text: title and text joined by one space."""
    title = str(item.get("title") or "")
    text = str(item.get("text") or "")
    return f"{title} {text}" if title else text


def _units(
    profile: Sequence[Mapping[str, Any]], strategy: Strategy, snippet_chars: int
) -> tuple[list[str], list[tuple[int, int | None]]]:
    """The texts the retriever ranks, and ``(document, snippet)`` of each."""
    texts, owners = [], []
    for doc, item in enumerate(profile):
        full = document_text(item)
        if strategy.unit == "document":
            texts.append(full)
            owners.append((doc, None))
        else:
            for number, snippet in enumerate(snippets(full, snippet_chars)):
                texts.append(snippet)
                owners.append((doc, number))
    return texts, owners


def best_snippet_order(
    owners: Sequence[tuple[int, int | None]], indices: np.ndarray, scores: np.ndarray
) -> list[tuple[int, float]]:
    """Documents by their best snippet's score, best first; equal scores keep document order."""
    best: dict[int, float] = {}
    for index, score in zip(indices.tolist(), scores.tolist()):
        doc = owners[index][0]
        if doc not in best or score > best[doc]:
            best[doc] = float(score)
    return sorted(best.items(), key=lambda pair: (-pair[1], pair[0]))


def rank_contexts(
    examples: Sequence[Any],
    strategy: Strategy | str,
    retriever: Any,
    *,
    max_chars: int = MAX_CHARS,
    snippet_chars: int = SNIPPET_CHARS,
    separator: str = " ",
) -> list[RankedContext]:
    """The ranked context of each example (``id``, ``input`` = the query, ``profile``)."""
    from ropg.retrievers.pipeline import rank_queries

    strategy = get_strategy(strategy) if isinstance(strategy, str) else strategy
    units = [_units(example.profile, strategy, snippet_chars) for example in examples]
    queries = [
        RetrievalQuery(
            qid=str(example.id),
            query=example.input,
            documents=texts,
            profile=example.profile if strategy.unit == "document" else (),
            input=example.input,
        )
        for example, (texts, _) in zip(examples, units)
    ]
    rankings = rank_queries(retriever, queries, top_k=None, show_progress=False)
    contexts = []
    for example, (texts, owners) in zip(examples, units):
        ranking = rankings[str(example.id)]
        if strategy.by_best_snippet:
            order = best_snippet_order(owners, np.asarray(ranking.indices), ranking.scores)
            entries = [
                RankedEntry(doc, score, document_text(example.profile[doc])) for doc, score in order
            ]
        else:
            entries = [
                RankedEntry(owners[i][0], float(s), texts[i], snippet=owners[i][1])
                for i, s in zip(np.asarray(ranking.indices).tolist(), ranking.scores.tolist())
            ]
        text, used = concatenate([entry.text for entry in entries], max_chars, separator)
        entries = entries[: len(used)]
        for entry, chars in zip(entries, used):
            entry.chars = chars
        contexts.append(RankedContext(str(example.id), entries, text))
    return contexts


def context_record(context: RankedContext) -> dict[str, Any]:
    """The JSON record of a ranked context (entry texts are not stored, only positions)."""
    return {
        "id": context.id,
        "entries": [entry.record() for entry in context.entries],
        "text": context.text,
    }


def context_from_record(
    record: Mapping[str, Any], profile: Sequence[Mapping[str, Any]], snippet_chars: int
) -> RankedContext:
    """A :class:`RankedContext` back from its record and the example's profile."""
    entries = []
    for item in record["entries"]:
        full = document_text(profile[item["doc"]])
        number = item.get("snippet")
        text = full if number is None else snippets(full, snippet_chars)[number]
        entries.append(RankedEntry(item["doc"], item["score"], text, number, item["chars"]))
    return RankedContext(str(record["id"]), entries, str(record["text"]))
