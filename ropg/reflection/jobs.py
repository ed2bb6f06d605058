"""Resumable per-example jobs: records appended to a JSONL file chunk by chunk.

Every RPO artifact written per example (generic answers, trajectories, reflections) is a
:class:`~ropg.feedback.jsonl.ResumableJsonl`: a header naming what decides the records, then
one record per example. A killed job loses at most the chunk in flight (and its generations
are in the output cache already); a re-run skips the examples that are done.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ropg.errors import DataError
from ropg.feedback.jsonl import ResumableJsonl, read_feedback
from ropg.utils.io import atomic_write_json

logger = logging.getLogger(__name__)

Process = Callable[[list[Any]], list[dict[str, Any]]]


def split_header(split: Any) -> dict[str, Any]:
    """What identifies a split in a job header: task, split name, size, questions file."""
    return {
        "task": split.task.name,
        "split": split.split,
        "examples": len(split),
        "questions": Path(split.questions_path or "").name,
    }


def run_job(
    path: str | os.PathLike[str],
    header: Mapping[str, Any],
    examples: Sequence[Any],
    process: Process,
    chunk_size: int,
    restart: bool = False,
) -> list[dict[str, Any]]:
    """Process the examples not yet in ``path``, ``chunk_size`` at a time; all records, in
    example order.

    Args:
        path: the JSONL file (created with ``header`` when missing).
        header: what decides the records; a file with another header is refused (or, with
            ``restart``, started over).
        examples: objects with an ``id``.
        process: turns a chunk of examples into one record each (with its ``id``).
    """
    output = ResumableJsonl(path, header, restart_on_mismatch=restart)
    done = set(output.done)
    todo = [example for example in examples if str(example.id) not in done]
    if done:
        logger.info("%s: %d done, %d to go", path, len(done), len(todo))
    for start in range(0, len(todo), chunk_size):
        chunk = todo[start : start + chunk_size]
        records = process(chunk)
        if [str(r["id"]) for r in records] != [str(e.id) for e in chunk]:
            raise RuntimeError("a job step returned records out of order")
        output.append(records)
    return read_records(path, [str(example.id) for example in examples])


def read_records(
    path: str | os.PathLike[str], ids: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """The records of a job file (in ``ids`` order, each required, when ``ids`` is given)."""
    _, records = read_feedback(path)
    if ids is None:
        return records
    by_id = {str(record["id"]): record for record in records}
    missing = [qid for qid in ids if qid not in by_id]
    if missing:
        raise DataError(path, f"{len(missing)} example(s) missing (e.g. {missing[0]!r})")
    return [by_id[qid] for qid in ids]


def digest(value: Any) -> str:
    """A short sha256 of a JSON-able value (what a job header records of its inputs)."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def report_path(path: str | os.PathLike[str]) -> Path:
    """Where a JSONL artifact's facts go: ``NAME.report.json``."""
    return Path(path).with_suffix(".report.json")


def write_facts(path: str | os.PathLike[str], facts: Mapping[str, Any]) -> None:
    """A job's summary as JSON next to its records."""
    atomic_write_json(path, dict(facts), indent=2)
