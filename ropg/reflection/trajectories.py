"""Teacher trajectories for SFT: the teacher prompt, the structured trajectory, the quality
filter and the resumable builder.

The teacher sees the input, g, the top-1..k items and the gold, and writes ``<evidence>``
(which profile items matter), ``<edits>`` (what to change in g) and ``<rewrite>``. A
trajectory is kept when it passes the filter, and dropped for the first reason that applies:

================  ===============================================================
``malformed``     a block is missing, repeated or unclosed
``empty_rewrite`` the rewrite is empty
``too_long``      the rewrite has more than ``max_answer_words`` words
``invalid_answer``  the rewrite is not in the task's format (label, 1-5 rating)
``worse_than_generic``  the rewrite scores below g on the task's feedback metric
``copies_gold``   the rewrite is (or contains) the gold verbatim, for golds of at least
                  ``copy_min_words`` words
================  ===============================================================

A kept trajectory becomes one SFT example: the reflection prompt with the same items, and the
target ``<reasoning>Evidence: ... Edits: ...</reasoning> <answer>rewrite</answer>``.
"""

from __future__ import annotations

import logging
import os
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ropg.reflection.contexts import top_indices
from ropg.reflection.formats import answer_format
from ropg.reflection.jobs import (
    digest,
    read_records,
    report_path,
    run_job,
    split_header,
    write_facts,
)
from ropg.reflection.parser import tagged_block
from ropg.reflection.prompts import ReflectionFormat
from ropg.reflection.teacher import TRAJECTORY_TAGS, TeachRequest

logger = logging.getLogger(__name__)

DROP_REASONS = (
    "malformed",
    "empty_rewrite",
    "too_long",
    "invalid_answer",
    "worse_than_generic",
    "copies_gold",
)
TEACHER_TEMPLATE = (
    "You write training data for a model that rewrites generic answers for one user. You see a "
    "task input, a generic answer, the user's own items (most relevant first) and the answer "
    "the user really gave. Write three blocks:\n"
    "<evidence> which of the user's items (cite them as [n]) show the preference that the real "
    "answer follows </evidence>\n"
    "<edits> what to change in the generic answer, and why </edits>\n"
    "<rewrite> the personalized answer, as the evidence supports it: {answer_hint}. Do not "
    "copy a long real answer word for word. </rewrite>\n"
    "Input: {input}\n"
    "Generic answer: {generic}\n"
    "The user's items, most relevant first:\n{items}\n"
    "The user's real answer: {gold}"
)


@dataclass(frozen=True)
class TrajectoryFilter:
    """The quality filter (see the module docstring).

    Attributes:
        require_not_worse: drop rewrites that score below g on the gold.
        copy_min_words: golds of at least this many words must not be copied (0: off).
        max_answer_words: longer rewrites are dropped (the inference parser's limit).
    """

    require_not_worse: bool = True
    copy_min_words: int = 8
    max_answer_words: int = 128


def teacher_prompt(
    task: Any, example: Any, generic: str, items: Sequence[Mapping[str, Any]], fmt: ReflectionFormat
) -> str:
    """The teacher's prompt for one input."""
    from ropg.reflection.prompts import cut_words

    return TEACHER_TEMPLATE.format(
        answer_hint=answer_format(task).hint,
        input=cut_words(example.input, fmt.input_max_words),
        generic=cut_words(generic, fmt.input_max_words) or "(empty)",
        items=fmt.render_items(task, items),
        gold=example.gold,
    )


def parse_trajectory(text: str) -> dict[str, str] | None:
    """``{"evidence", "edits", "rewrite"}`` of a trajectory, or None when malformed."""
    blocks = {}
    for tag in TRAJECTORY_TAGS:
        problem, content = tagged_block(text, tag)
        if problem is not None:
            return None
        blocks[tag] = content
    return blocks


def _normalized(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def judge(
    blocks: dict[str, str] | None, task: Any, gold: str, generic: str, rules: TrajectoryFilter
) -> tuple[str | None, str, float | None, float | None]:
    """``(drop reason or None, the rewrite in the task's format, its score, g's score)``."""
    if blocks is None:
        return "malformed", "", None, None
    rewrite = blocks["rewrite"]
    if not rewrite:
        return "empty_rewrite", "", None, None
    if len(rewrite.split()) > rules.max_answer_words:
        return "too_long", rewrite, None, None
    normalized = answer_format(task).normalize(rewrite)
    if normalized is None:
        return "invalid_answer", rewrite, None, None
    score, generic_score = task.example_score(gold, normalized), task.example_score(gold, generic)
    if rules.require_not_worse and score < generic_score:
        return "worse_than_generic", normalized, score, generic_score
    gold_text = _normalized(gold)
    if rules.copy_min_words and len(gold_text.split()) >= rules.copy_min_words:
        if gold_text in _normalized(normalized):
            return "copies_gold", normalized, score, generic_score
    return None, normalized, score, generic_score


def sft_target(blocks: Mapping[str, str], rewrite: str, fmt: ReflectionFormat) -> str:
    """The reflection model's training target for a kept trajectory."""
    reasoning = f"Evidence: {blocks['evidence']}\nEdits: {blocks['edits']}"
    return fmt.completion(reasoning, rewrite)


def build_trajectories(
    split: Any,
    generics: Mapping[str, str],
    rankings: Mapping[str, Sequence[int]],
    teacher: Any,
    path: str | os.PathLike[str],
    *,
    items: int = 1,
    fmt: ReflectionFormat | None = None,
    rules: TrajectoryFilter | None = None,
    chunk_size: int = 64,
    restart: bool = False,
) -> dict[str, Any]:
    """Teacher trajectories for a split (with golds), filtered; resumable. Returns the facts.

    Writes ``path`` (one record per input: the blocks, kept or the drop reason, the scores,
    and for kept ones the SFT ``prompt`` and ``completion``) and ``NAME.report.json``.

    Returns:
        ``{"path", "examples", "kept", "dropped": {reason: n}, "generated"}``.
    """
    fmt = fmt or ReflectionFormat()
    rules = rules or TrajectoryFilter()
    if not split.has_golds:
        raise ValueError(f"{split.task.name} {split.split}: trajectories need gold outputs")
    task = split.task
    header = {
        **split_header(split),
        "teacher": teacher.identity,
        "items": items,
        "format": {k: v for k, v in vars(fmt).items()},
        "filter": vars(rules),
        "inputs": _inputs_digest(split, generics, rankings, items),
    }
    before = getattr(teacher, "misses", 0)

    def process(chunk: list[Any]) -> list[dict[str, Any]]:
        requests = []
        for example in chunk:
            shown = [example.profile[i] for i in top_indices(rankings, example.id, items)]
            prompt = teacher_prompt(task, example, generics[example.id], shown, fmt)
            requests.append(TeachRequest(task, example, generics[example.id], shown, prompt))
        texts = teacher.teach(requests)
        return [
            _record(request, text, fmt, rules)
            for request, text in zip(requests, texts, strict=True)
        ]

    records = run_job(path, header, list(split), process, chunk_size, restart)
    dropped = Counter(r["drop_reason"] for r in records if not r["kept"])
    facts = {
        "path": str(path),
        "examples": len(records),
        "kept": sum(1 for r in records if r["kept"]),
        "dropped": {reason: dropped[reason] for reason in DROP_REASONS if dropped[reason]},
        "generated": getattr(teacher, "misses", 0) - before,
    }
    write_facts(report_path(path), facts)
    logger.info(
        "%s: kept %d of %d; dropped %s", path, facts["kept"], len(records), facts["dropped"]
    )
    return facts


def _record(
    request: TeachRequest, text: str, fmt: ReflectionFormat, rules: TrajectoryFilter
) -> dict[str, Any]:
    example = request.example
    blocks = parse_trajectory(text)
    reason, rewrite, score, generic_score = judge(
        blocks, request.task, str(example.gold), request.generic, rules
    )
    record: dict[str, Any] = {
        "id": example.id,
        "generic": request.generic,
        "items": [str(item.get("id")) for item in request.items],
        "teacher": text,
        "rewrite": rewrite,
        "score": score,
        "generic_score": generic_score,
        "kept": reason is None,
        "drop_reason": reason,
    }
    if reason is None and blocks is not None:
        prompt = fmt.prompt(request.task, example.input, request.generic, request.items)
        record["prompt"] = prompt
        record["completion"] = sft_target(blocks, rewrite, fmt)
    return record


def read_trajectories(path: str | os.PathLike[str], kept_only: bool = True) -> list[dict[str, Any]]:
    """The records of a trajectories file (the kept ones by default)."""
    records = read_records(path)
    return [r for r in records if r.get("kept")] if kept_only else records


def _inputs_digest(
    split: Any, generics: Mapping[str, str], rankings: Mapping[str, Sequence[int]], items: int
) -> str:
    return digest([[generics[e.id], top_indices(rankings, e.id, items)] for e in split])
