"""What to generate per example: ROPG candidates (one-item prompts) or the RSPG pool.

A :class:`Planner` turns a chunk of examples into generation requests (prompts) and turns the
generated outputs back into one JSONL record per example (the schema is in
:mod:`ropg.feedback.records`). Planners take an optional *query builder* (how an example
becomes a retrieval query: by default the task's query, e.g. the text after ``review:``), so
a step can search with other text, e.g. an earlier step's output (:mod:`ropg.feedback.steps`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ropg.core.protocols import ExampleLike, TaskLike
from ropg.feedback.records import CandidateEntry, CandidateRecord, PoolRecord, Ranked, RankedOutput
from ropg.retrievers.base import Ranking, RetrievalQuery

QueryBuilder = Callable[[ExampleLike], str]
"""An example's retrieval query text (the default: the task's query, or the whole input)."""


@dataclass
class Request:
    """One prompt to generate, with what the record needs to know about it (``info``: a
    candidate's ``rank, index, item_id, retrieval_score``; a pool entry's ``indices,
    item_ids, retrieval_scores``)."""

    prompt: str
    info: dict[str, Any] = field(default_factory=dict)


class Planner(Protocol):
    """What the collector (:func:`ropg.feedback.collect_feedback`) runs.

    ``header`` gives the settings that decide the records (resuming compares them); ``plan``
    gives each example's requests; ``record`` turns one example's outputs and scores into its
    JSON record. A planner may set ``signal`` (``generate``, the default, or ``likelihood``).
    """

    def header(self) -> dict[str, Any]: ...

    def plan(self, examples: Sequence[Any]) -> list[list[Request]]: ...

    def record(
        self,
        example: Any,
        requests: Sequence[Request],
        outputs: Sequence[Any],
        scores: Sequence[float],
    ) -> dict[str, Any]: ...


@dataclass
class PromptBuilder:
    """Builds a task prompt from ranked profile indices with one tokenizer and budget."""

    task: TaskLike
    tokenizer: Any
    max_length: int = 512

    def __call__(self, example: ExampleLike, indices: Sequence[int]) -> str:
        items = [example.profile[i] for i in indices]
        return self.task.prompt(example.input, items, self.tokenizer, self.max_length)


def make_queries(
    task: TaskLike,
    examples: Sequence[ExampleLike],
    use_date: bool,
    query: QueryBuilder | None = None,
) -> list[RetrievalQuery]:
    """Retrieval queries for examples: ``query(example)`` when given, else the task's query
    (the whole input stands in when an input has no query marker)."""
    from ropg.retrievers.pipeline import build_queries

    queries = build_queries(examples, task, use_date=use_date, query_fallback="input")
    if query is None:
        return queries
    return [
        RetrievalQuery(q.qid, query(example), q.documents, q.profile, q.input)
        for q, example in zip(queries, examples, strict=True)
    ]


def rank_examples(
    retriever: Any, examples: Sequence[ExampleLike], queries: Sequence[RetrievalQuery], top_k: int
) -> list[Ranking]:
    """One ranking per example, in order, checked (one per query, indices in the profile)."""
    from ropg.retrievers.pipeline import rank_queries

    by_id = rank_queries(retriever, queries, top_k, show_progress=False)
    return [by_id[example.id] for example in examples]


def ranked_items(ranking: Ranking, example: ExampleLike) -> Ranked:
    """A ranking's indices with the items' ids and retrieval scores (the record's view)."""
    return Ranked(
        tuple(int(i) for i in ranking.indices),
        tuple(ranking.item_ids(example.profile)),
        tuple(float(s) for s in ranking.scores),
    )


@dataclass
class CandidatePlanner:
    """ROPG: the first ``candidates`` items of an initial ranking, each alone in a prompt."""

    retriever: Any
    retriever_name: str
    build_prompt: PromptBuilder
    candidates: int = 16
    use_date: bool = True
    store_prompts: bool = False
    signal: str = "generate"
    query: QueryBuilder | None = None

    def header(self) -> dict[str, Any]:
        header = {
            "kind": "candidates",
            "retriever": self.retriever_name,
            "candidates": self.candidates,
            "use_date": self.use_date,
            "max_length": self.build_prompt.max_length,
        }
        if self.signal != "generate":  # files of the default signal keep their old header
            header["signal"] = self.signal
        return header

    def plan(self, examples: Sequence[ExampleLike]) -> list[list[Request]]:
        queries = make_queries(self.build_prompt.task, examples, self.use_date, self.query)
        rankings = rank_examples(self.retriever, examples, queries, self.candidates)
        plans = []
        for example, ranking in zip(examples, rankings, strict=True):
            ranked = ranked_items(ranking, example)
            plans.append(
                [
                    Request(
                        self.build_prompt(example, [index]),
                        {
                            "rank": rank,
                            "index": index,
                            "item_id": ranked.item_ids[rank],
                            "retrieval_score": ranked.retrieval_scores[rank],
                        },
                    )
                    for rank, index in enumerate(ranked.indices)
                ]
            )
        return plans

    def record(
        self,
        example: ExampleLike,
        requests: Sequence[Request],
        outputs: Sequence[Any],
        scores: Sequence[float],
    ) -> dict[str, Any]:
        entries = [
            CandidateEntry(
                **request.info,  # rank, index, item_id, retrieval_score
                output=output,
                score=score,
                prompt=request.prompt if self.store_prompts else None,
            )
            for request, output, score in zip(requests, outputs, scores, strict=True)
        ]
        return CandidateRecord(example.id, example.user_id, example.gold, tuple(entries)).to_json()


@dataclass
class PoolPlanner:
    """RSPG: for every retriever in the pool, the ``k``-item prompt."""

    retrievers: Mapping[str, Any]
    build_prompt: PromptBuilder
    k: int = 4
    use_date: bool = False
    query: QueryBuilder | None = None

    def header(self) -> dict[str, Any]:
        return {
            "kind": "pool",
            "retrievers": list(self.retrievers),
            "k": self.k,
            "use_date": self.use_date,
            "max_length": self.build_prompt.max_length,
        }

    def plan(self, examples: Sequence[ExampleLike]) -> list[list[Request]]:
        queries = make_queries(self.build_prompt.task, examples, self.use_date, self.query)
        plans: list[list[Request]] = [[] for _ in examples]
        for retriever in self.retrievers.values():
            rankings = rank_examples(retriever, examples, queries, self.k)
            for plan, example, ranking in zip(plans, examples, rankings, strict=True):
                ranked = ranked_items(ranking, example)
                plan.append(Request(self.build_prompt(example, ranked.indices), ranked.to_json()))
        return plans

    def record(
        self,
        example: ExampleLike,
        requests: Sequence[Request],
        outputs: Sequence[Any],
        scores: Sequence[float],
    ) -> dict[str, Any]:
        # plan() makes one request per retriever, in the pool's order
        retrievers = {
            name: RankedOutput(Ranked.from_json(request.info), request.prompt, output, score)
            for name, request, output, score in zip(
                self.retrievers, requests, outputs, scores, strict=True
            )
        }
        return PoolRecord(example.id, example.user_id, example.gold, retrievers).to_json()
