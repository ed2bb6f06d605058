"""Pool feedback as typed records: per input, every retriever's prompt, output and score.

``ropg-feedback pool`` writes one JSONL record per input (format in
:mod:`ropg.feedback.planners`); :func:`load_pool_records` reads one or more such files into
:class:`PoolRecord` objects, checking that each belongs to a pool file, carries the task asked
for, and holds every retriever of the pool with a prompt, an output, a finite score and its
retrieval scores. Any problem is a :class:`~ropg.errors.DataError` naming the file,
the record and the field.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ropg.errors import DataError, UserError
from ropg.feedback.jsonl import read_feedback
from ropg.feedback.records import read_pool_record
from ropg.lamp.tasks import Task, get_task

if TYPE_CHECKING:
    from ropg.selection.config import SelectorConfig

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class RetrieverResult:
    """What one retriever gave for one input.

    Attributes:
        prompt: the LLM prompt built from its top-k items (the bare input for ``none``).
        output: the LLM's output for that prompt.
        score: the per-example feedback score of the output (higher is better; LaMP-3: the
            normalized score of docs/lamp-fidelity.md: Feedback and training signals).
        retrieval_scores: the retriever's scores of its ranked items, best first.
        item_ids: the ids of the ranked items.
    """

    prompt: str
    output: str
    score: float
    retrieval_scores: tuple[float, ...] = ()
    item_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class PoolRecord:
    """One input with the result of every retriever of the pool, in pool order.

    Attributes:
        id: the LaMP question id.
        gold: the gold output.
        task: the task name (``"LaMP-3"``), for the official metrics.
        retrievers: retriever name -> :class:`RetrieverResult`, in pool order.
        user_id: the user id when the data has one.
    """

    id: str
    gold: str
    task: str
    retrievers: Mapping[str, RetrieverResult]
    user_id: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """The pool's retriever names, in pool order."""
        return tuple(self.retrievers)

    def scores(self) -> np.ndarray:
        """Feedback scores in pool order."""
        return np.array([result.score for result in self.retrievers.values()], dtype=np.float64)


def pool_names(records: Sequence[PoolRecord]) -> tuple[str, ...]:
    """The pool shared by ``records`` (a UserError when they differ or there are none)."""
    if not records:
        raise UserError("no pool records")
    names = records[0].names
    for record in records:
        if record.names != names:
            raise UserError(
                f"record {record.id!r} has pool {list(record.names)}, not {list(names)}"
            )
    return names


def records_task(records: Sequence[PoolRecord], task: str | Task | None = None) -> Task:
    """``task`` if given, else the task the records name (a UserError if they disagree)."""
    if task is not None:
        return get_task(task)
    names = {record.task for record in records}
    if len(names) != 1:
        raise UserError(f"pool records name {len(names)} tasks ({sorted(names)}); pass task=")
    return get_task(names.pop())


def _as_paths(paths: PathLike | Sequence[PathLike]) -> list[Path]:
    if isinstance(paths, (str, os.PathLike)):
        return [Path(paths)]
    return [Path(path) for path in paths]


def _parse_record(value: Any, path: Path, index: int, pool: Sequence[str], task: str) -> PoolRecord:
    """A pool record of the feedback schema (:mod:`ropg.feedback.records`), with the gold and
    every pool member's generated output RSPG needs."""
    record = read_pool_record(value, path, index, pool)
    where = {"index": index, "record_id": record.id}
    if record.gold is None:
        raise DataError(path, "missing or not a string", field="gold", **where)
    results = {}
    for name, entry in record.retrievers.items():
        if entry.output is None:
            raise DataError(path, "missing output", field=f"retrievers.{name}.output", **where)
        ranked = entry.ranked
        results[name] = RetrieverResult(
            entry.prompt, entry.output, entry.score, ranked.retrieval_scores, ranked.item_ids
        )
    return PoolRecord(record.id, record.gold, task, results, record.user_id)


def load_pool_records(
    paths: PathLike | Sequence[PathLike],
    task: str | Task | None = None,
    retrievers: Sequence[str] | None = None,
    limit: int | None = None,
) -> list[PoolRecord]:
    """Read ``ropg-feedback pool`` file(s) into :class:`PoolRecord` objects (file order).

    Args:
        paths: one file or several (e.g. shards of one split); records are concatenated and
            ids must be unique across them.
        task: the task the files must be for (default: the task their headers name).
        retrievers: the pool to keep, in this order (default: the first file's pool); every
            record must have all of them.
        limit: keep only the first ``limit`` records.
    """
    files = _as_paths(paths)
    if not files:
        raise UserError("no pool feedback file given")
    wanted = get_task(task).name if task is not None else None
    pool: list[str] | None = list(retrievers) if retrievers else None
    records: list[PoolRecord] = []
    seen: set[str] = set()
    for path in files:
        header, values = read_feedback(path)
        if header.get("kind") != "pool":
            raise DataError(
                path, f"is a {header.get('kind')!r} feedback file; RSPG needs a 'pool' file"
            )
        signal = header.get("signal", "generate")
        if signal != "generate":
            raise DataError(
                path, f"has feedback signal {signal!r}; RSPG needs generated outputs ('generate')"
            )
        header_task = get_task(str(header.get("task", wanted or ""))).name
        if wanted is not None and header_task != wanted:
            raise DataError(path, f"is feedback for {header_task}, not {wanted}")
        if pool is None:
            pool = [str(name) for name in header.get("retrievers") or []]
            if not pool:
                raise DataError(path, "the header names no retrievers", index=0)
        for index, value in enumerate(values, start=1):
            record = _parse_record(value, path, index, pool, header_task)
            if record.id in seen:
                raise DataError(path, "duplicate id", index=index, record_id=record.id)
            seen.add(record.id)
            records.append(record)
            if limit is not None and len(records) >= limit:
                return records
    return records


def load_train_dev_records(
    config: SelectorConfig, task: str | Task | None = None
) -> tuple[list[PoolRecord], list[PoolRecord]]:
    """``(train, dev)`` pool records of an RSPG run's config.

    The train pool is ``config.retrievers`` (default: the train file's); the dev records must
    hold the same pool, in the same order (``[]`` without ``dev_feedback``). ``task``: the
    task the files must be for (default ``config.task``). No train record is a UserError.
    """
    task = config.task if task is None else task
    train = load_pool_records(
        config.train_feedback, task, config.retrievers or None, config.limit_train
    )
    if not train:
        raise UserError(f"{config.train_feedback}: no pool records")
    dev: list[PoolRecord] = []
    if config.dev_feedback:
        pool = list(pool_names(train))
        dev = load_pool_records(config.dev_feedback, task, pool, config.limit_dev)
    return train, dev
