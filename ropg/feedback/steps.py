"""Chainable steps: one generation per example, whose prompt and query may read earlier steps.

A chain is a sequence of feedback jobs over the same split; step ``n`` reads the finished
records of step ``n - 1`` (:class:`StepOutputs`, as the benchmark replays stored rankings) and
builds its own prompts from them. Each step is its own resumable JSONL file and every
generation goes through the cache, so a killed step resumes without regenerating anything of
an earlier step. RPO is such a chain: the generic answer ``g`` from the bare input, then a
rewrite whose retrieval query is ``input ⊕ g`` and whose prompt shows ``g``::

    generic = StepPlanner("generic", task, lambda example, items: example.input)
    collect_feedback(split, generic, llm, "generic.jsonl", header)
    g = StepOutputs.load("generic.jsonl", split.ids)
    rewrite = StepPlanner(
        "rewrite", task, lambda example, items: reflection_prompt(example, g[example.id], items),
        retriever=get_retriever("bm25"), k=4,
        query=lambda example: f"{example.input} {g[example.id]}",
        settings={"reads": g.fingerprint},
    )
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ropg.core.protocols import ExampleLike, TaskLike
from ropg.errors import DataError
from ropg.feedback.planners import (
    QueryBuilder,
    Request,
    make_queries,
    rank_examples,
    ranked_items,
)
from ropg.feedback.records import Ranked, RankedOutput, StepRecord, read_step_record

StepPrompt = Callable[[ExampleLike, Sequence[Mapping[str, Any]]], str]
"""``(example, ranked profile items) -> prompt`` of one step."""


@dataclass
class StepPlanner:
    """One prompt per example, optionally after retrieving ``k`` profile items.

    Attributes:
        name: the step name (recorded in the header).
        task: the task (its documents, and its query when ``query`` is not given).
        build_prompt: ``(example, ranked items) -> prompt``.
        retriever: ranks each example's profile (None: no retrieval, no items).
        k: items retrieved per example.
        query: ``example -> query text`` (default: the task's query).
        use_date: documents with ``" date: ..."``.
        settings: JSON-able settings that decide the prompts (e.g. the fingerprint of the
            earlier step it reads); recorded in the header, so resuming with other settings is
            refused.
    """

    name: str
    task: TaskLike
    build_prompt: StepPrompt
    retriever: Any = None
    k: int = 0
    query: QueryBuilder | None = None
    use_date: bool = False
    settings: dict[str, Any] = field(default_factory=dict)

    def header(self) -> dict[str, Any]:
        return {
            "kind": "step",
            "step": self.name,
            "k": self.k if self.retriever is not None else 0,
            "use_date": self.use_date,
            **self.settings,
        }

    def plan(self, examples: Sequence[ExampleLike]) -> list[list[Request]]:
        if self.retriever is None or self.k == 0:
            rankings: list[Ranked] = [Ranked() for _ in examples]
        else:
            queries = make_queries(self.task, examples, self.use_date, self.query)
            rankings = [
                ranked_items(ranking, example)
                for ranking, example in zip(
                    rank_examples(self.retriever, examples, queries, self.k), examples, strict=True
                )
            ]
        plans = []
        for example, ranked in zip(examples, rankings, strict=True):
            items = [example.profile[i] for i in ranked.indices]
            plans.append([Request(self.build_prompt(example, items), ranked.to_json())])
        return plans

    def record(
        self,
        example: ExampleLike,
        requests: Sequence[Request],
        outputs: Sequence[Any],
        scores: Sequence[float],
    ) -> dict[str, Any]:
        (request,), (output,), (score,) = requests, outputs, scores
        result = RankedOutput(Ranked.from_json(request.info), request.prompt, output, score)
        return StepRecord(example.id, example.user_id, example.gold, result).to_json()


@dataclass(frozen=True)
class StepOutputs(Mapping[str, str]):
    """The finished outputs of an earlier step, by example id (``outputs[example.id]``).

    Attributes:
        path: the step's JSONL file.
        records: the typed records by id.
        fingerprint: a digest of the file's content: a later step records it in its header,
            so that it is redone when the earlier step's outputs change.
    """

    path: Path
    records: Mapping[str, StepRecord]
    fingerprint: str

    @classmethod
    def load(cls, path: str | Path, ids: Sequence[str] | None = None) -> StepOutputs:
        """Read a finished step file; with ``ids``, every one of them must be there."""
        from ropg.feedback.jsonl import read_feedback

        path = Path(path)
        header, raw = read_feedback(path)
        if header.get("kind") != "step":
            raise DataError(path, f"not a step file (kind {header.get('kind')!r})", index=0)
        records = {}
        for index, value in enumerate(raw, start=1):
            record = read_step_record(value, path, index)
            records[record.id] = record
        missing = [i for i in ids or () if i not in records]
        if missing:
            raise DataError(
                path, f"{len(missing)} example(s) have no output yet (e.g. {missing[0]!r})"
            )
        digest = hashlib.blake2b(path.read_bytes(), digest_size=16).hexdigest()
        return cls(path, records, digest)

    def __getitem__(self, example_id: str) -> str:
        output = self.records[example_id].output
        return "" if output is None else output

    def __iter__(self):
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)
