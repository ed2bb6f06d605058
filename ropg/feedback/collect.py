"""Run a feedback job: plan prompts, generate them (cached), score, append records; resumable.

Examples are processed in split order in chunks; each finished chunk is appended to the JSONL
file durably, and every generated output is in the generator cache as soon as its batch
finishes, so a killed job loses at most the chunk in flight and a re-run regenerates nothing
that finished. With several processes (``accelerate launch``), each takes every n-th example
into its own shard file and the main process merges the shards in split order.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ropg.core.protocols import SplitLike, TaskLike
from ropg.errors import DataError, UserError, naming_file
from ropg.feedback.jsonl import HEADER_KEY, ResumableJsonl, dumps_record, read_feedback
from ropg.feedback.planners import Planner
from ropg.utils.io import atomic_open, output_kind
from ropg.utils.locks import directory_lock

logger = logging.getLogger(__name__)


@dataclass
class FeedbackRun:
    """Settings shared by every feedback job."""

    chunk_size: int = 16
    shard_index: int = 0
    num_shards: int = 1
    show_progress: bool = True
    restart_on_mismatch: bool = False  # a file of other settings: start over, not an error


class Signal(Protocol):
    """How a prompt's feedback is measured: ``(outputs, scores)`` for ``prompts``, scored
    against ``golds`` by ``task``; ``llm`` is an :class:`~ropg.generation.endpoint.LLMEndpoint`
    (or any object with ``generate(prompts)`` and, for likelihoods, ``score``)."""

    def __call__(
        self, task: TaskLike, llm: Any, prompts: list[str], golds: list[str]
    ) -> tuple[list[Any], list[float]]: ...


def generated_signal(
    task: TaskLike, llm: Any, prompts: list[str], golds: list[str]
) -> tuple[list[Any], list[float]]:
    """The paper's signal: generate each prompt, score the output against the gold."""
    outputs = list(llm.generate(prompts)) if prompts else []
    return outputs, task.example_scores(golds, outputs)


def likelihood_signal(
    task: TaskLike, llm: Any, prompts: list[str], golds: list[str]
) -> tuple[list[Any], list[float]]:
    """A cheaper signal: ``log p(gold | prompt)``, one forward pass per prompt, no output."""
    score = getattr(llm, "score", None)
    if score is None:
        raise UserError(f"the generator {llm!r} cannot score likelihoods")
    return [None] * len(prompts), (list(score(prompts, golds)) if prompts else [])


SIGNALS: dict[str, Signal] = {"generate": generated_signal, "likelihood": likelihood_signal}
"""How a prompt's feedback is measured, by name (``--signal`` of ``ropg-feedback``)."""


def resolve_signal(name: str) -> Signal:
    if name not in SIGNALS:
        raise UserError(f"unknown feedback signal {name!r}; choose from {sorted(SIGNALS)}")
    return SIGNALS[name]


def feedback_header(split: SplitLike, llm: Any) -> dict[str, Any]:
    """The job header of a feedback file (the planner adds its own settings).

    ``ropg-feedback`` and the benchmark stages both build it here: resuming compares it with
    the header in the file, so the two must never drift apart. It names the data by the
    digests of the split's files (questions and outputs), so a file collected before the
    golds or the profiles changed is never resumed over.

    Args:
        split: the split the feedback is collected on.
        llm: the :class:`~ropg.generation.endpoint.LLMEndpoint` (or a generator): its
            ``identity`` names the LLM, its decoding config is recorded.
    """
    config = getattr(llm, "generation_config", None) or llm.config
    return {
        "task": split.task.name,
        "split": split.split,
        "examples": len(split),
        "questions": Path(split.questions_path or "").name,
        "data": data_digests(split),
        "llm": llm.identity,
        "generation": config.to_dict(),
    }


def data_digests(split: SplitLike) -> dict[str, Any]:
    """Digests of the files ``split`` was read from (``questions``, ``outputs``); a split not
    read from files is named by its source (``source``) when it has one."""
    from ropg.utils.fingerprint import file_digest

    digests: dict[str, Any] = {}
    for name in ("questions", "outputs"):
        location = getattr(split, f"{name}_path", None)
        if not location:
            continue
        path = Path(location)
        digests[name] = file_digest(path) if path.is_file() else str(location)
    return digests


def shard_path(out: Path, shard_index: int, num_shards: int) -> Path:
    """Where one process writes its shard (the final file itself when there is one process)."""
    if num_shards == 1:
        return out
    return out.with_name(f"{out.name}.shard{shard_index}of{num_shards}")


def collect_feedback(
    split: SplitLike,
    planner: Planner,
    llm: Any,
    out: str | Path,
    header: dict[str, Any],
    run: FeedbackRun | None = None,
) -> Path:
    """Collect feedback for ``split`` into ``out`` (this process's shard of it).

    Args:
        split: a split with gold outputs.
        planner: a :class:`~ropg.feedback.planners.Planner` (``header``, ``plan``, ``record``).
        llm: an :class:`~ropg.generation.endpoint.LLMEndpoint`, or anything with
            ``generate(prompts) -> outputs`` (a cached generator).
        out: the JSONL file.
        header: job description written as the first line (task, split, LLM identity, ...);
            an existing file with another header is refused.
        run: chunking, sharding and progress settings.
    """
    run = run or FeedbackRun()
    signal = resolve_signal(getattr(planner, "signal", "generate"))
    if not split.has_golds:
        raise UserError(f"{split.task.name} {split.split}: feedback needs gold outputs")
    out = Path(out)
    path = shard_path(out, run.shard_index, run.num_shards)
    job = {**header, **planner.header()}
    if run.num_shards > 1:
        _check_merge_target(out)  # before any work: the merge will replace it
        job["shard"] = [run.shard_index, run.num_shards]
    with (
        ResumableJsonl(path, job, run.restart_on_mismatch) as writer,
        naming_file(split.questions_path),
    ):
        _collect(split, planner, llm, signal, writer, run)
    return path


def _collect(
    split: SplitLike, planner: Planner, llm: Any, signal: Signal, writer: ResumableJsonl,
    run: FeedbackRun,
) -> None:  # fmt: skip
    from tqdm.auto import tqdm

    done = set(writer.done)
    mine = [e for i, e in enumerate(split.examples) if i % run.num_shards == run.shard_index]
    unknown = done - {example.id for example in mine}
    if unknown:
        raise DataError(
            writer.path, f"holds {len(unknown)} record(s) of examples this job does not have "
            f"(e.g. {sorted(unknown)[0]!r}); use another output or delete it to start over",
        )  # fmt: skip
    pending = [example for example in mine if example.id not in done]
    task = split.task
    bar = tqdm(
        total=len(mine),
        initial=len(mine) - len(pending),
        unit="ex",
        desc=f"feedback:{task.name}",
        disable=not run.show_progress,
    )
    started, generated = time.perf_counter(), 0
    for start in range(0, len(pending), run.chunk_size):
        chunk = pending[start : start + run.chunk_size]
        plans = planner.plan(chunk)
        prompts = [request.prompt for plan in plans for request in plan]
        golds = [example.gold for example, plan in zip(chunk, plans) for _ in plan]
        outputs, scores = signal(task, llm, prompts, golds)
        generated += len(prompts)
        records, position = [], 0
        for example, plan in zip(chunk, plans):
            end = position + len(plan)
            span = slice(position, end)
            records.append(planner.record(example, plan, outputs[span], scores[span]))
            position = end
        writer.append(records)
        bar.update(len(chunk))
        elapsed = time.perf_counter() - started
        bar.set_postfix(prompts_per_s=f"{generated / max(elapsed, 1e-9):.1f}")
    bar.close()
    logger.info(
        "%s: %d examples (%d new, %d prompts) in %.1fs",
        writer.path,
        len(mine),
        len(pending),
        generated,
        time.perf_counter() - started,
    )


def _check_merge_target(out: Path) -> None:
    """The merged file replaces ``out``: refuse when it is anything but a feedback file."""
    where = output_kind(out, resumable=True)
    if not where.exists:
        return
    with where.target.open("rb") as stream:
        first = stream.readline()
    if first.strip() and not first.startswith(('{"' + HEADER_KEY + '":').encode()):
        raise DataError(
            out, "is not a ropg feedback file; the shards' merge would replace it, so it was "
            "left untouched: give another output path",
        )  # fmt: skip


def _complete_lines(path: Path) -> int:
    """How many newline-terminated lines ``path`` has (a partial last line does not count)."""
    count = 0
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            count += block.count(b"\n")
    return count


def shards_complete(split: SplitLike, out: str | Path, num_shards: int) -> bool:
    """Whether every shard file exists and holds all of its examples.

    Only counts complete lines (the header, then one record per example); the merge that
    follows parses and checks them.
    """
    for shard in range(num_shards):
        path = shard_path(Path(out), shard, num_shards)
        if not path.exists():
            return False
        expected = len(range(shard, len(split), num_shards))
        if _complete_lines(path) - 1 < expected:
            return False
    return True


def merge_shards(split: SplitLike, out: str | Path, num_shards: int) -> Path:
    """Merge shard files into ``out`` in split order; checks there are no gaps or duplicates.

    Safe to call from every shard at once: under a lock, the first merges and removes the
    shard files; a later call finds ``out`` merged and returns it.
    """
    out = Path(out)
    # an flock on the output's directory: no lock file exists that could be left behind
    with directory_lock(out.parent, wait=True):
        paths = [shard_path(out, shard, num_shards) for shard in range(num_shards)]
        if out.exists() and not any(path.exists() for path in paths):
            return out  # another shard merged them
        _merge(split, out, paths)
    return out


def _merge(split: SplitLike, out: Path, paths: list[Path]) -> None:
    _check_merge_target(out)
    header: dict[str, Any] | None = None
    by_id: dict[str, dict[str, Any]] = {}
    for shard, path in enumerate(paths):
        shard_header, records = read_feedback(path)
        found = shard_header.pop("shard", None)
        if found is not None and found != [shard, len(paths)]:
            raise DataError(path, f"is shard {found}, not [{shard}, {len(paths)}]", index=0)
        if header is not None and shard_header != header:
            raise DataError(path, "shard header differs from shard 0's")
        header = shard_header
        for record in records:
            if record["id"] in by_id:
                raise DataError(path, "duplicate example across shards", record_id=record["id"])
            by_id[record["id"]] = record
    missing = [i for i in split.ids if i not in by_id]
    if missing:
        raise DataError(
            out,
            f"{len(missing)} example(s) missing from the shards "
            f"(e.g. {missing[0]!r}); re-run to finish them",
        )
    with atomic_open(out) as stream:
        stream.write(dumps_record({HEADER_KEY: header}) + "\n")
        for example_id in split.ids:
            stream.write(dumps_record(by_id[example_id]) + "\n")
    for path in paths:
        path.unlink(missing_ok=True)


def feedback_by_id(
    path: str | Path, expected_ids: Sequence[str] | None = None
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Load a finished feedback file as (header, records by id).

    With ``expected_ids`` (the split's ids in order), every id must be there, no other, in
    that order: a file with records of another split, or reordered by two writers, is refused.
    """
    header, records = read_feedback(path)
    by_id: dict[str, dict[str, Any]] = {}
    for index, record in enumerate(records, start=1):
        if not isinstance(record, dict) or "id" not in record:
            raise DataError(path, "missing", index=index, field="id")
        by_id[str(record["id"])] = record
    if expected_ids is not None:
        check_record_order(path, list(by_id), expected_ids)
    return header, by_id


def check_record_order(path: object, found: Sequence[str], expected: Sequence[str]) -> None:
    """``found`` (a file's record ids, in file order) must be ``expected`` (split order)."""
    expected = [str(i) for i in expected]
    missing = [i for i in expected if i not in set(found)]
    if missing:
        raise DataError(path, f"{len(missing)} example(s) have no feedback (e.g. {missing[0]!r})")
    known = set(expected)
    extra = [i for i in found if i not in known]
    if extra:
        raise DataError(
            path, f"{len(extra)} record(s) are not examples of the split (e.g. {extra[0]!r})",
            record_id=extra[0],
        )  # fmt: skip
    for index, (got, wanted) in enumerate(zip(found, expected), start=1):
        if got != wanted:
            raise DataError(
                path, f"records are not in split order (expected {wanted!r} here)",
                index=index, record_id=got,
            )  # fmt: skip
