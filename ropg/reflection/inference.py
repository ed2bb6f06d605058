"""Reflection at inference: g, the retrieved items, the reflection model's rewrite, the parse.

Two entry points:

- :func:`reflect`: the whole chain for examples in memory (base model g -> query -> context
  source -> reflection model -> parse), returning one :class:`Reflection` each;
- :func:`reflect_split`: the reflection step over a split whose g and rankings are known,
  written resumably to a JSONL file (id, g, the query kind, the retrieved item ids, the
  reasoning, the final answer, the fallback reason), with the official predictions file and a
  fallback report next to it.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ropg.reflection.contexts import top_indices
from ropg.reflection.formats import answer_format
from ropg.reflection.jobs import digest, report_path, run_job, split_header, write_facts
from ropg.reflection.parser import FallbackCounts, ParseSettings, parse_reflection
from ropg.reflection.prompts import ReflectionFormat

logger = logging.getLogger(__name__)


@dataclass
class Reflector:
    """The reflection model with its prompt and output format.

    Attributes:
        llm: an :class:`~ropg.reflection.endpoints.RpoLLM` (any generator spec; by default an
            HF causal LM prompted through its chat template).
        format: the prompt format.
        parse: how outputs are read back.
    """

    llm: Any
    format: ReflectionFormat = dataclasses.field(default_factory=ReflectionFormat)
    parse: ParseSettings = dataclasses.field(default_factory=ParseSettings)

    @property
    def identity(self) -> dict[str, Any]:
        return {
            "llm": self.llm.identity,
            "format": dataclasses.asdict(self.format),
            "parse": dataclasses.asdict(self.parse),
        }


@dataclass(frozen=True)
class Reflection:
    """One input's reflection.

    Attributes:
        id: the question id.
        generic: g.
        items: the profile indices shown, best first.
        raw: the reflection model's output.
        reasoning: its reasoning block.
        answer: the final answer (g when it fell back).
        fallback: why g was used (None: the reflection's own answer).
    """

    id: str
    generic: str
    items: tuple[int, ...]
    raw: str
    reasoning: str
    answer: str
    fallback: str | None


def reflect_examples(
    task: Any,
    examples: Sequence[Any],
    generics: Mapping[str, str],
    rankings: Mapping[str, Sequence[int]],
    k: int,
    reflector: Reflector,
) -> list[Reflection]:
    """The reflection step: prompt with g and the top-k items, generate, parse.

    ``rankings`` must hold every example when ``k > 0`` (a missing one is a
    :class:`~ropg.errors.DataError`, never a silent "no items").
    """
    shown = [top_indices(rankings, e.id, k) for e in examples]
    prompts = [
        reflector.format.prompt(task, e.input, generics[e.id], [e.profile[i] for i in indices])
        for e, indices in zip(examples, shown, strict=True)
    ]
    outputs = reflector.llm.generate(prompts)
    form = answer_format(task)
    results = []
    for example, indices, output in zip(examples, shown, outputs, strict=True):
        parsed = parse_reflection(output, generics[example.id], form, reflector.parse)
        results.append(
            Reflection(
                id=example.id,
                generic=generics[example.id],
                items=tuple(indices),
                raw=output,
                reasoning=parsed.reasoning,
                answer=parsed.answer,
                fallback=parsed.fallback,
            )
        )
    return results


def reflect(
    task: Any,
    examples: Sequence[Any],
    reflector: Reflector,
    *,
    base: Any = None,
    generics: Mapping[str, str] | None = None,
    source: Any = None,
    k: int = 6,
) -> list[Reflection]:
    """RPO on examples in memory: g (from ``base`` unless ``generics`` are given), ranking by
    ``source`` (a :class:`~ropg.reflection.contexts.ContextSource`; None: no items), then the
    reflection model's rewrite.

    >>> results = reflect(get_task("LaMP-2"), split.examples, reflector, base=base_llm,
    ...                   source=retriever_source("bm25"), k=4)  # doctest: +SKIP
    """
    from ropg.lamp import get_task

    task = get_task(task) if isinstance(task, str) else task
    examples = list(examples)
    if generics is None:
        if base is None:
            raise ValueError("give base (the base model) or generics")
        outputs = base.generate([e.input for e in examples])
        generics = {e.id: out for e, out in zip(examples, outputs, strict=True)}
    if source is None or k == 0:
        return reflect_examples(task, examples, generics, {}, 0, reflector)
    rankings = source.rank(task, examples, generics, k)
    return reflect_examples(task, examples, generics, rankings, k, reflector)


def reflect_split(
    split: Any,
    generics: Mapping[str, str],
    rankings: Mapping[str, Sequence[int]],
    reflector: Reflector,
    path: str | os.PathLike[str],
    *,
    k: int = 6,
    query: str = "input+generic",
    source: Mapping[str, Any] | None = None,
    chunk_size: int = 64,
    restart: bool = False,
) -> dict[str, Any]:
    """Reflect a whole split (resumable) and write its artifacts; return the facts.

    Writes ``path`` (JSONL, one record per input), ``NAME.predictions.json`` (official LaMP
    format) and ``NAME.report.json`` (the facts below).

    Args:
        generics: g per question id.
        rankings: ``{qid: [profile indices]}`` (from a retriever or precomputed).
        k: items shown to the reflection model.
        query: the query kind recorded with each record (``rankings`` when precomputed).
        source: what made the rankings (recorded in the header).

    Returns:
        ``{"path", "predictions", "examples", "generated", "fallbacks": {...}, "metrics",
        "generic_metrics"}`` (metrics only when the split has golds).
    """
    from ropg.reflection.generic import predictions_path, write_split_predictions

    task = split.task
    header = {
        **split_header(split),
        "reflector": reflector.identity,
        "k": k,
        "query": query,
        "source": dict(source or {}),
        "inputs": digest([[generics[e.id], top_indices(rankings, e.id, k)] for e in split]),
    }
    before = reflector.llm.misses

    def process(chunk: list[Any]) -> list[dict[str, Any]]:
        results = reflect_examples(task, chunk, generics, rankings, k, reflector)
        return [_record(example, result, query) for example, result in zip(chunk, results)]

    records = run_job(path, header, list(split), process, chunk_size, restart)
    counts = FallbackCounts(r["fallback"] for r in records)
    outputs = {str(r["id"]): str(r["answer"]) for r in records}
    metrics = write_split_predictions(split, outputs, predictions_path(path))
    facts: dict[str, Any] = {
        "path": str(path),
        "predictions": str(predictions_path(path)),
        "examples": len(records),
        "generated": reflector.llm.misses - before,
        "fallbacks": counts.to_dict(),
        "metrics": metrics,
    }
    if split.has_golds:
        facts["generic_metrics"] = task.evaluate(
            [e.gold for e in split], [generics[e.id] for e in split]
        )
    write_facts(report_path(path), facts)
    logger.info("%s: %s", path, counts.format())
    return facts


def _record(example: Any, result: Reflection, query: str) -> dict[str, Any]:
    return {
        "id": example.id,
        "generic": result.generic,
        "query": query,
        "items": [str(example.profile[i].get("id")) for i in result.items],
        "reasoning": result.reasoning,
        "answer": result.answer,
        "fallback": result.fallback,
        "raw": result.raw,
    }
