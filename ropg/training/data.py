"""Training data for ROPG: feedback files checked against the LaMP split, batches of candidates.

A feedback file (``ropg-feedback candidates``, format in :mod:`ropg.feedback.planners`) holds,
per example, the initial retriever's first ``l`` profile items in rank order with the LLM's
score for each. :func:`load_candidate_examples` joins it with the split and checks that it
belongs to it: same task, every example present, the expected number of candidates, indices
inside the profile and item ids that match. Any mismatch is a :class:`DataError` naming
the file, the example and the field.

Short profiles give fewer than ``l`` candidates; those slots are *masked* in the losses. The
LaMP reference instead pads them with empty-string documents that the retriever scores like
real ones, and never writes their targets, so they keep the target tensor's initial value
(:func:`reference_pad_feedback`); with ``reference_compat`` that is reproduced here: the
padding's feedback is that raw value, and the collator marks the slots (``padding``) so that
the RL loss uses it as the reward as it is (no baseline subtracted), as the reference does.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ropg.errors import DataError, UserError
from ropg.feedback.records import CandidateEntry, read_candidate_record
from ropg.lamp.data import LampSplit
from ropg.lamp.tasks import Task, get_task

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CandidateExample:
    """One training/dev example: a query, its candidate documents and their feedback.

    Attributes:
        id: the LaMP question id.
        position: the example's index in the split (seeds the RL draws of this example).
        query: the retrieval query (``task.query(input)``; the whole input if it has none).
        documents: the candidates' retrieval texts in the initial ranking's order.
        feedback: the LLM feedback score of each candidate (one-item prompt).
        indices: profile indices of the candidates (-1 for reference padding).
        real: how many candidates are real profile items (the rest are reference padding).
    """

    id: str
    position: int
    query: str
    documents: tuple[str, ...]
    feedback: tuple[float, ...]
    indices: tuple[int, ...]
    real: int


def reference_pad_feedback(task: Task, gold: Any) -> float:
    """The target the LaMP reference leaves on an empty-string padding candidate.

    The reference (``ROPG/trainers/trainer.py``, the ``gold_scores`` initialization) builds the
    target tensor of a batch and writes only the real candidates' entries; padding keeps the
    initial value. For a higher-is-better feedback metric (accuracy, ROUGE-1: LaMP-1/2, 4-7)
    the tensor starts at zeros: 0.0. For LaMP-3 (MAE, lower is better) every entry of a row
    starts at the *raw* worst error ``max(|y - 1|, |y - 5|)`` of its gold ``y`` (2 to 4), above
    every real normalized target in [0, 1]. The same value is the KD target logit (before
    ``softmax(target / T)``) and the RL reward (no baseline subtracted).

    Raises:
        UserError: the LaMP-3 gold is not a number.
    """
    metric = task.metric
    if metric.higher_is_better[metric.keys[0]]:
        return 0.0
    try:
        rating = float(str(gold).strip())
    except ValueError:
        raise UserError(f"{task.name}: gold rating {gold!r} is not a number") from None
    return max(abs(rating - 1), abs(rating - 5))


def read_candidate_feedback(
    paths: Sequence[str | Path], task: Task, candidates: int
) -> tuple[dict[str, Any], dict[str, tuple[Path, dict[str, Any]]]]:
    """Merge ``candidates`` feedback files: (first header, {id: (file, record)}), checked."""
    from ropg.feedback import read_feedback

    if not paths:
        raise UserError("no feedback file given")
    merged: dict[str, tuple[Path, dict[str, Any]]] = {}
    first_header: dict[str, Any] | None = None
    for path in map(Path, paths):
        header, records = read_feedback(path)
        check_header(path, header, task, candidates)
        if first_header is not None and header.get("candidates") != first_header.get("candidates"):
            raise DataError(path, "has another candidate count than the first feedback file")
        if first_header is not None and _signal(header) != _signal(first_header):
            raise DataError(
                path,
                f"has feedback signal {_signal(header)!r}, the first feedback file "
                f"{_signal(first_header)!r}: scores on different scales cannot be mixed",
                index=0,
            )
        first_header = first_header or header
        for line, record in enumerate(records, start=1):
            if not isinstance(record, dict) or "id" not in record:
                raise DataError(path, "a record must be an object with an 'id'", index=line)
            example_id = str(record["id"])
            if example_id in merged:
                raise DataError(
                    path,
                    f"duplicate example (also in {merged[example_id][0]})",
                    record_id=example_id,
                )
            merged[example_id] = (path, record)
    assert first_header is not None
    return first_header, merged


def _signal(header: Mapping[str, Any]) -> str:
    return str(header.get("signal", "generate"))


def check_header(path: Path, header: Mapping[str, Any], task: Task, candidates: int) -> None:
    """The file must be ROPG ``candidates`` feedback for ``task`` with enough candidates."""
    kind = header.get("kind")
    if kind != "candidates":
        raise DataError(
            path,
            f"is {kind!r} feedback; ROPG training needs 'candidates' feedback "
            "(ropg-feedback candidates)",
            index=0,
        )
    found = header.get("task")
    if found is not None:
        try:
            found_name = get_task(str(found)).name
        except UserError:
            found_name = str(found)
        if found_name != task.name:
            raise DataError(
                path, f"is feedback for {found_name}, but the task is {task.name}", index=0
            )
    available = header.get("candidates")
    if not isinstance(available, int) or isinstance(available, bool) or available < 1:
        raise DataError(path, "header has no valid 'candidates' count", index=0)
    if candidates > available:
        raise DataError(
            path,
            f"has {available} candidates per example but {candidates} were asked for; "
            f"set candidates: {available} (or fewer)",
            index=0,
        )


def _candidate_index(
    path: Path, record_id: str, position: int, entry: CandidateEntry, profile: Sequence[Any]
) -> int:
    where = {"record_id": record_id, "field": f"candidates[{position}]"}
    if not 0 <= entry.index < len(profile):
        raise DataError(
            path,
            f"candidate index {entry.index} is out of range for a profile of {len(profile)} "
            "items (feedback made for other data?)",
            **where,
        )
    if str(entry.item_id) != str(profile[entry.index].get("id")):
        raise DataError(
            path,
            f"candidate is item {entry.item_id!r} but profile[{entry.index}] is item "
            f"{profile[entry.index].get('id')!r} (feedback made for other data?)",
            **where,
        )
    if entry.rank != position:
        raise DataError(path, f"rank {entry.rank!r} at position {position}", **where)
    return entry.index


def build_example(
    task: Task,
    example: Any,
    position: int,
    record: Mapping[str, Any],
    path: Path,
    *,
    available: int,
    candidates: int,
    use_date: bool,
    reference_compat: bool = False,
) -> CandidateExample:
    """Check one feedback record against its example and build the training example."""
    entries = read_candidate_record(record, path, None).candidates
    expected = min(available, len(example.profile))
    if len(entries) != expected:
        raise DataError(
            path,
            f"has {len(entries)} candidates, expected {expected} (the header's {available} or "
            f"the profile's {len(example.profile)} items; feedback made for other data?)",
            record_id=example.id,
            field="candidates",
        )
    indices = [
        _candidate_index(path, example.id, i, e, example.profile) for i, e in enumerate(entries)
    ]
    if len(set(indices)) != len(indices):
        raise DataError(
            path, "a profile item appears twice", record_id=example.id, field="candidates"
        )
    scores = [entry.score for entry in entries]
    indices, scores = indices[:candidates], scores[:candidates]
    documents = [task.document(example.profile[i], use_date) for i in indices]
    real = len(indices)
    if reference_compat and real < candidates:
        pad = candidates - real
        documents += [""] * pad
        scores += [reference_pad_feedback(task, example.gold)] * pad
        indices += [-1] * pad
    query = task.query_fn(example.input)
    return CandidateExample(
        id=example.id,
        position=position,
        query=query if query is not None else example.input,
        documents=tuple(documents),
        feedback=tuple(scores),
        indices=tuple(indices),
        real=real,
    )


def load_candidate_examples(
    split: LampSplit,
    feedback_paths: Sequence[str | Path],
    *,
    candidates: int,
    use_date: bool,
    reference_compat: bool = False,
    min_candidates: int = 1,
) -> list[CandidateExample]:
    """Examples of ``split`` joined with their feedback, checked (see the module docstring).

    Examples with fewer than ``min_candidates`` real candidates are left out (training uses 2:
    with one candidate both losses are 0). With ``reference_compat`` nothing is left out and
    short lists are padded to ``candidates`` with empty documents.
    """
    task = split.task
    header, records = read_candidate_feedback(feedback_paths, task, candidates)
    if header.get("split") not in (None, split.split):
        logger.warning(
            "%s: feedback header says split %r, training on %r",
            feedback_paths[0],
            header.get("split"),
            split.split,
        )
    if "use_date" in header and bool(header["use_date"]) != use_date:
        logger.info(
            "feedback was collected with use_date=%s; documents here use use_date=%s",
            header["use_date"],
            use_date,
        )
    missing = [example_id for example_id in split.ids if example_id not in records]
    if missing:
        raise DataError(
            feedback_paths[0] if len(feedback_paths) == 1 else ", ".join(map(str, feedback_paths)),
            f"{len(missing)} of {len(split)} {task.name} {split.split} examples have no feedback "
            f"(e.g. id {missing[0]!r}); collect it for this split",
        )
    available = int(header["candidates"])
    examples, skipped, no_query = [], 0, 0
    for position, example in enumerate(split.examples):
        path, record = records[example.id]
        built = build_example(
            task,
            example,
            position,
            record,
            path,
            available=available,
            candidates=candidates,
            use_date=use_date,
            reference_compat=reference_compat,
        )
        no_query += task.query_fn(example.input) is None
        if not reference_compat and built.real < min_candidates:
            skipped += 1
            continue
        examples.append(built)
    if no_query:
        logger.warning("%d input(s) have no query marker: the whole input is their query", no_query)
    if skipped:
        logger.info(
            "%s %s: %d example(s) with fewer than %d candidates left out",
            task.name,
            split.split,
            skipped,
            min_candidates,
        )
    extra = len(records) - len(split)
    if extra > 0:
        logger.info("feedback holds %d example(s) not in the split (ignored)", extra)
    return examples


class CandidateCollator:
    """Tokenizes a list of :class:`CandidateExample` into one batch of tensors.

    Output keys: ``query_input_ids``/``query_attention_mask`` ``(B, Tq)``,
    ``doc_input_ids``/``doc_attention_mask`` ``(N, Td)`` for the ``N`` candidate documents of
    the batch, ``doc_rows``/``doc_cols`` ``(N,)`` (their slot), ``feedback`` ``(B, L)`` float,
    ``mask`` ``(B, L)`` bool, ``padding`` ``(B, L)`` bool (the reference's empty-string
    padding candidates of ``reference_compat``, all False otherwise) and ``positions`` ``(B,)``
    (example positions in the split).
    """

    def __init__(self, tokenizer: Any, max_length: int, slots: int) -> None:
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.slots = slots

    def _tokenize(self, texts: list[str]) -> Any:
        return self.tokenizer(
            texts,
            truncation=True,
            max_length=self.max_length,
            padding=True,
            return_tensors="pt",
            return_token_type_ids=False,
        )

    def __call__(self, items: Sequence[CandidateExample]) -> dict[str, Any]:
        import torch

        batch, slots = len(items), self.slots
        feedback = torch.zeros((batch, slots), dtype=torch.float32)
        mask = torch.zeros((batch, slots), dtype=torch.bool)
        padding = torch.zeros((batch, slots), dtype=torch.bool)
        texts, rows, cols = [], [], []
        for row, item in enumerate(items):
            count = min(len(item.documents), slots)
            feedback[row, :count] = torch.tensor(item.feedback[:count], dtype=torch.float32)
            mask[row, :count] = True
            padding[row, :count] = torch.tensor(
                [i < 0 for i in item.indices[:count]], dtype=torch.bool
            )
            texts.extend(item.documents[:count])
            rows.extend([row] * count)
            cols.extend(range(count))
        queries = self._tokenize([item.query for item in items])
        out = {
            "query_input_ids": queries["input_ids"],
            "query_attention_mask": queries["attention_mask"],
            "doc_rows": torch.tensor(rows, dtype=torch.long),
            "doc_cols": torch.tensor(cols, dtype=torch.long),
            "feedback": feedback,
            "mask": mask,
            "padding": padding,
            "positions": torch.tensor([item.position for item in items], dtype=torch.long),
        }
        if texts:
            documents = self._tokenize(texts)
            out["doc_input_ids"] = documents["input_ids"]
            out["doc_attention_mask"] = documents["attention_mask"]
        else:
            out["doc_input_ids"] = torch.zeros((0, 1), dtype=torch.long)
            out["doc_attention_mask"] = torch.zeros((0, 1), dtype=torch.long)
        return out


class EpochSampler:
    """A shuffling sampler whose order depends only on ``(seed, epoch)``.

    Resuming at an epoch boundary therefore replays exactly the order of an uninterrupted run;
    accelerate calls :meth:`set_epoch` through ``DataLoaderShard.set_epoch``.
    """

    def __init__(self, size: int, seed: int, shuffle: bool = True) -> None:
        self.size = size
        self.seed = seed
        self.shuffle = shuffle
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.size

    def __iter__(self):
        import torch

        if not self.shuffle:
            return iter(range(self.size))
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return iter(torch.randperm(self.size, generator=generator).tolist())
