"""The feedback record schema, written and read in one place.

One JSONL line per example after the header line (see :mod:`ropg.feedback.jsonl`). Three
kinds, named by the header's ``kind``:

``candidates`` (ROPG's signal: each of an initial ranking's first items alone in a prompt)::

    {"id": "q1", "user_id": "u1", "gold": "comedy",
     "candidates": [{"rank": 0, "index": 7, "item_id": "p7", "retrieval_score": 12.3,
                     "output": "comedy", "score": 1.0}, ...]}

``pool`` (RSPG's signal: every retriever's k-item prompt)::

    {"id": "q1", "user_id": "u1", "gold": "comedy",
     "retrievers": {"bm25": {"indices": [7, 2], "item_ids": ["p7", "p2"],
                             "retrieval_scores": [...], "prompt": "...",
                             "output": "comedy", "score": 1.0}, ...}}

``step`` (one generation per example, e.g. a chain's generic answer or rewrite)::

    {"id": "q1", "user_id": "u1", "gold": "comedy", "prompt": "...", "output": "...",
     "score": 1.0, "indices": [7, 2], "item_ids": ["p7", "p2"], "retrieval_scores": [...]}

With the likelihood signal a candidate's ``output`` is null and its score is ``log p(gold)``.
Readers get typed objects back; a malformed record is a :class:`~ropg.errors.DataError`
naming the file, the record and the field.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ropg.errors import DataError


@dataclass(frozen=True)
class Ranked:
    """Ranked profile items: their indices, ids and retrieval scores, best first."""

    indices: tuple[int, ...] = ()
    item_ids: tuple[str, ...] = ()
    retrieval_scores: tuple[float, ...] = ()

    @classmethod
    def from_json(cls, values: Mapping[str, Any]) -> Ranked:
        return cls(
            tuple(int(i) for i in values["indices"]),
            tuple(str(i) for i in values["item_ids"]),
            tuple(float(s) for s in values["retrieval_scores"]),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "indices": [int(i) for i in self.indices],
            "item_ids": [str(i) for i in self.item_ids],
            "retrieval_scores": [float(s) for s in self.retrieval_scores],
        }


@dataclass(frozen=True)
class CandidateEntry:
    """One candidate item alone in a prompt, the LLM's output and its feedback score."""

    rank: int
    index: int
    item_id: str
    retrieval_score: float | None
    output: str | None
    score: float
    prompt: str | None = None

    def to_json(self) -> dict[str, Any]:
        entry = {
            "rank": self.rank,
            "index": self.index,
            "item_id": self.item_id,
            "retrieval_score": self.retrieval_score,
            "output": self.output,
            "score": self.score,
        }
        if self.prompt is not None:
            entry["prompt"] = self.prompt
        return entry


@dataclass(frozen=True)
class RankedOutput:
    """A k-item prompt built from a ranking, the LLM's output and its feedback score."""

    ranked: Ranked
    prompt: str
    output: str | None
    score: float

    def to_json(self) -> dict[str, Any]:
        return {**self.ranked.to_json(), "prompt": self.prompt, "output": self.output,
                "score": self.score}  # fmt: skip


@dataclass(frozen=True)
class ExampleRecord:
    """What every record starts with: the example's id, user and gold."""

    id: str
    user_id: str | None
    gold: str | None

    def _base(self) -> dict[str, Any]:
        return {"id": self.id, "user_id": self.user_id, "gold": self.gold}


@dataclass(frozen=True)
class CandidateRecord(ExampleRecord):
    candidates: tuple[CandidateEntry, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {**self._base(), "candidates": [entry.to_json() for entry in self.candidates]}


@dataclass(frozen=True)
class PoolRecord(ExampleRecord):
    retrievers: Mapping[str, RankedOutput] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        retrievers = {name: entry.to_json() for name, entry in self.retrievers.items()}
        return {**self._base(), "retrievers": retrievers}


@dataclass(frozen=True)
class StepRecord(ExampleRecord):
    """One generation of a step for one example (see :mod:`ropg.feedback.steps`)."""

    result: RankedOutput | None = None

    @property
    def output(self) -> str | None:
        return None if self.result is None else self.result.output

    def to_json(self) -> dict[str, Any]:
        return {**self._base(), **(self.result.to_json() if self.result else {})}


# -- reading ---------------------------------------------------------------------------------
class _Reader:
    """Field checks that name the file, the record and the field."""

    def __init__(self, path: object, index: int, record: Any) -> None:
        self.path, self.index = path, index
        if not isinstance(record, Mapping):
            raise DataError(path, f"expected an object, got {type(record).__name__}", index=index)
        self.record = record
        self.id = self.text(record, "id")

    def fail(self, field_name: str, problem: str) -> DataError:
        return DataError(
            self.path, problem, index=self.index, record_id=getattr(self, "id", None),
            field=field_name,
        )  # fmt: skip

    def get(self, mapping: Mapping[str, Any], key: str, where: str = "") -> Any:
        if key not in mapping:
            raise self.fail(where + key, "missing field")
        return mapping[key]

    def text(self, mapping: Mapping[str, Any], key: str, where: str = "") -> str:
        value = self.get(mapping, key, where)
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise self.fail(where + key, f"expected a string, got {type(value).__name__}")
        return str(value)

    def optional_text(self, mapping: Mapping[str, Any], key: str, where: str = "") -> str | None:
        value = mapping.get(key)
        return None if value is None else self.text(mapping, key, where)

    def number(self, mapping: Mapping[str, Any], key: str, where: str = "") -> float:
        value = self.get(mapping, key, where)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(where + key, f"expected a number, got {type(value).__name__}")
        if not math.isfinite(float(value)):
            raise self.fail(where + key, f"not a finite number ({value})")
        return float(value)

    def integer(self, mapping: Mapping[str, Any], key: str, where: str = "") -> int:
        value = self.get(mapping, key, where)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(where + key, f"expected an integer, got {type(value).__name__}")
        return value

    def sequence(self, mapping: Mapping[str, Any], key: str, where: str = "") -> Sequence[Any]:
        value = self.get(mapping, key, where)
        if not isinstance(value, list):
            raise self.fail(where + key, f"expected a list, got {type(value).__name__}")
        return value

    def base(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "user_id": self.optional_text(self.record, "user_id"),
            "gold": self.optional_text(self.record, "gold"),
        }

    def ranked_output(self, entry: Any, where: str) -> RankedOutput:
        if not isinstance(entry, Mapping):
            raise self.fail(where.rstrip("."), "expected an object")
        indices = tuple(int(i) for i in self.sequence(entry, "indices", where))
        item_ids = tuple(str(i) for i in self.sequence(entry, "item_ids", where))
        scores = tuple(float(s) for s in self.sequence(entry, "retrieval_scores", where))
        if not len(indices) == len(item_ids) == len(scores):
            raise self.fail(where + "indices", "indices, item_ids and retrieval_scores differ")
        return RankedOutput(
            Ranked(indices, item_ids, scores),
            self.text(entry, "prompt", where),
            self.optional_text(entry, "output", where),
            self.number(entry, "score", where),
        )


def read_candidate_record(record: Any, path: object, index: int) -> CandidateRecord:
    """A ``candidates`` record, checked."""
    reader = _Reader(path, index, record)
    entries = []
    for position, entry in enumerate(reader.sequence(record, "candidates")):
        where = f"candidates[{position}]."
        if not isinstance(entry, Mapping):
            raise reader.fail(where.rstrip("."), "expected an object")
        entries.append(
            CandidateEntry(
                rank=reader.integer(entry, "rank", where),
                index=reader.integer(entry, "index", where),
                item_id=reader.text(entry, "item_id", where),
                retrieval_score=(
                    reader.number(entry, "retrieval_score", where)
                    if entry.get("retrieval_score") is not None
                    else None
                ),
                output=reader.optional_text(entry, "output", where),
                score=reader.number(entry, "score", where),
                prompt=reader.optional_text(entry, "prompt", where),
            )
        )
    return CandidateRecord(**reader.base(), candidates=tuple(entries))


def read_pool_record(
    record: Any, path: object, index: int, names: Sequence[str] | None = None
) -> PoolRecord:
    """A ``pool`` record, checked; with ``names``, only those retrievers (each required)."""
    reader = _Reader(path, index, record)
    retrievers = reader.get(record, "retrievers")
    if not isinstance(retrievers, Mapping):
        raise reader.fail("retrievers", "expected an object")
    wanted = list(retrievers) if names is None else list(names)
    results = {}
    for name in wanted:
        if name not in retrievers:
            raise reader.fail(
                "retrievers", f"no entry for retriever {name!r} of the pool {list(wanted)}"
            )
        results[name] = reader.ranked_output(retrievers[name], f"retrievers.{name}.")
    return PoolRecord(**reader.base(), retrievers=results)


def read_step_record(record: Any, path: object, index: int) -> StepRecord:
    """A ``step`` record, checked."""
    reader = _Reader(path, index, record)
    return StepRecord(**reader.base(), result=reader.ranked_output(record, ""))
