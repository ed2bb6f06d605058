"""What to generate per example: ROPG candidates (one-item prompts) or the RSPG pool.

A planner turns a chunk of examples into generation requests (prompts) and turns the
generated outputs back into one JSONL record per example.

Record formats (one JSON object per line after the header line):

``candidates`` (ROPG training signal)::

    {"id": "q1", "user_id": "u1", "gold": "comedy",
     "candidates": [{"rank": 0, "index": 7, "item_id": "p7", "retrieval_score": 12.3,
                     "output": "comedy", "score": 1.0}, ...]}    # l entries, fewer if short

With ``signal="likelihood"`` the score is ``log p(gold | prompt)`` and ``output`` is null.

``pool`` (RSPG training signal)::

    {"id": "q1", "user_id": "u1", "gold": "comedy",
     "retrievers": {"bm25": {"indices": [7, 2, 9, 1], "item_ids": ["p7", ...],
                             "retrieval_scores": [...], "prompt": "...",
                             "output": "comedy", "score": 1.0}, ...}}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ropg.lamp.data import Example
from ropg.lamp.tasks import Task
from ropg.retrievers.base import Ranking, RetrievalQuery


@dataclass
class Request:
    """One prompt to generate, with what the record needs to know about it."""

    prompt: str
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class PromptBuilder:
    """Builds a task prompt from ranked profile indices with one tokenizer and budget."""

    task: Task
    tokenizer: Any
    max_length: int = 512

    def __call__(self, example: Example, indices: Sequence[int]) -> str:
        items = [example.profile[i] for i in indices]
        return self.task.prompt(example.input, items, self.tokenizer, self.max_length)


def make_queries(task: Task, examples: Sequence[Example], use_date: bool) -> list[RetrievalQuery]:
    """Retrieval queries for examples (the whole input stands in when a query has no marker)."""
    from ropg.retrievers.pipeline import build_queries

    return build_queries(examples, task, use_date=use_date, query_fallback="input")


def _rankings(
    retriever: Any, examples: Sequence[Example], queries: Sequence[RetrievalQuery], top_k: int
) -> list[Ranking]:
    """One ranking per example, in order, checked (one per query, indices in the profile)."""
    from ropg.retrievers.pipeline import rank_queries

    by_id = rank_queries(retriever, queries, top_k, show_progress=False)
    return [by_id[example.id] for example in examples]


def _ranked(ranking: Ranking, example: Example) -> dict[str, Any]:
    return {
        "indices": [int(i) for i in ranking.indices],
        "item_ids": ranking.item_ids(example.profile),
        "retrieval_scores": [float(s) for s in ranking.scores],
    }


def _record(example: Example, key: str, value: Any) -> dict[str, Any]:
    """An example's record: its id, user and gold, and the planner's entries under ``key``."""
    return {"id": example.id, "user_id": example.user_id, "gold": example.gold, key: value}


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

    def plan(self, examples: Sequence[Example]) -> list[list[Request]]:
        queries = make_queries(self.build_prompt.task, examples, self.use_date)
        rankings = _rankings(self.retriever, examples, queries, self.candidates)
        plans = []
        for example, ranking in zip(examples, rankings, strict=True):
            ranked = _ranked(ranking, example)
            plans.append(
                [
                    Request(
                        self.build_prompt(example, [index]),
                        {
                            "rank": rank,
                            "index": index,
                            "item_id": ranked["item_ids"][rank],
                            "retrieval_score": ranked["retrieval_scores"][rank],
                        },
                    )
                    for rank, index in enumerate(ranked["indices"])
                ]
            )
        return plans

    def record(
        self,
        example: Example,
        requests: Sequence[Request],
        outputs: Sequence[str],
        scores: Sequence[float],
    ) -> dict[str, Any]:
        entries = []
        for request, output, score in zip(requests, outputs, scores, strict=True):
            entry = {**request.info, "output": output, "score": score}
            if self.store_prompts:
                entry["prompt"] = request.prompt
            entries.append(entry)
        return _record(example, "candidates", entries)


@dataclass
class PoolPlanner:
    """RSPG: for every retriever in the pool, the ``k``-item prompt."""

    retrievers: Mapping[str, Any]
    build_prompt: PromptBuilder
    k: int = 4
    use_date: bool = False

    def header(self) -> dict[str, Any]:
        return {
            "kind": "pool",
            "retrievers": list(self.retrievers),
            "k": self.k,
            "use_date": self.use_date,
            "max_length": self.build_prompt.max_length,
        }

    def plan(self, examples: Sequence[Example]) -> list[list[Request]]:
        queries = make_queries(self.build_prompt.task, examples, self.use_date)
        plans: list[list[Request]] = [[] for _ in examples]
        for retriever in self.retrievers.values():
            rankings = _rankings(retriever, examples, queries, self.k)
            for plan, example, ranking in zip(plans, examples, rankings, strict=True):
                ranked = _ranked(ranking, example)
                plan.append(Request(self.build_prompt(example, ranked["indices"]), ranked))
        return plans

    def record(
        self,
        example: Example,
        requests: Sequence[Request],
        outputs: Sequence[str],
        scores: Sequence[float],
    ) -> dict[str, Any]:
        # plan() makes one request per retriever, in the pool's order
        retrievers = {
            name: {**request.info, "prompt": request.prompt, "output": output, "score": score}
            for name, request, output, score in zip(
                self.retrievers, requests, outputs, scores, strict=True
            )
        }
        return _record(example, "retrievers", retrievers)
