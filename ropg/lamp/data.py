"""Loading and validating LaMP splits (docs/lamp-fidelity.md: Files and splits).

Sources: a directory in the user-based or time-based published layout (found automatically or
named with ``layout=``), explicit question/output files, or a Hugging Face ``datasets`` source.
Every problem is reported as a :class:`~ropg.lamp.errors.LampDataError` naming the file, the
record index and id, and the field.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import Any

from ropg.core.protocols import SplitMethods
from ropg.lamp.errors import LampDataError, LampError
from ropg.lamp.json_files import read_json
from ropg.lamp.tasks import Task, get_task
from ropg.lamp.validation import check_golds

logger = logging.getLogger(__name__)

SPLITS = ("train", "dev", "test")
LAYOUTS = ("auto", "user", "time", "flat")
SCALAR_TYPES = (str, int, float)


@dataclass
class Example:
    """One LaMP question: its input, the user's profile and (when known) the gold output."""

    id: str
    input: str
    profile: list[dict[str, Any]]
    user_id: str | None = None
    gold: str | None = None


@dataclass
class LampSplit(SplitMethods):
    """The examples of one task and split, with where they came from."""

    task: Task
    split: str
    examples: list[Example]
    questions_path: str | None = None
    outputs_path: str | None = None

    def golds(self) -> list[str]:
        """Gold outputs in example order; raises when the split has none (e.g. test)."""
        if not self.has_golds:
            raise LampError(f"{self.task.name} {self.split}: no gold outputs loaded")
        return [example.gold for example in self.examples]  # type: ignore[misc]


def _require(
    record: Mapping[str, Any],
    key: str,
    types: type | tuple[type, ...],
    path: object,
    index: int,
    record_id: object,
    prefix: str = "",
) -> Any:
    if key not in record:
        raise LampDataError(
            path, "missing field", index=index, record_id=record_id, field=prefix + key
        )
    value = record[key]
    if not isinstance(value, types) or isinstance(value, bool):
        names = types.__name__ if isinstance(types, type) else "/".join(t.__name__ for t in types)
        raise LampDataError(
            path,
            f"expected {names}, got {type(value).__name__}",
            index=index,
            record_id=record_id,
            field=prefix + key,
        )
    return value


_PLAIN_SCALARS = frozenset({str, int, float})


def _plain_profile(profile: list[Any], needed: tuple[str, ...]) -> bool:
    """Whether every item has every needed field with a plain scalar type (checked in C)."""
    try:
        return all(_PLAIN_SCALARS.issuperset(map(type, map(itemgetter(name), profile)))
                   for name in needed)  # fmt: skip
    except (KeyError, TypeError, IndexError):
        return False


def _validate_profile(
    profile: list[Any], task: Task, path: object, index: int, record_id: str
) -> None:
    needed = ("id", *task.profile_fields)
    if _plain_profile(profile, needed):  # fast path: the whole profile at once
        return
    for position, item in enumerate(profile):
        try:  # fast path: every needed field present with a plain scalar type
            if all(type(item[name]) in _PLAIN_SCALARS for name in needed):
                continue
        except (KeyError, TypeError):
            pass
        if not isinstance(item, dict):
            raise LampDataError(
                path,
                f"expected an object, got {type(item).__name__}",
                index=index,
                record_id=record_id,
                field=f"profile[{position}]",
            )
        for name in needed:
            _require(item, name, SCALAR_TYPES, path, index, record_id, f"profile[{position}].")


def parse_questions(
    records: Any, task: Task, path: object, validate_profiles: bool = True
) -> list[Example]:
    """Validate question records (a list of ``{id, input, profile[, user_id]}``) into Examples."""
    if isinstance(records, dict) and isinstance(records.get("golds"), list):
        # LaMP-6's generated test file wraps the questions as {"task", "golds"}.
        logger.warning("%s: questions wrapped in {'task', 'golds'}; unwrapping", path)
        records = records["golds"]
    if not isinstance(records, list):
        raise LampDataError(
            path, f"expected a JSON list of questions, got {type(records).__name__}"
        )
    examples: list[Example] = []
    seen: dict[str, int] = {}
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise LampDataError(
                path, f"expected an object, got {type(record).__name__}", index=index
            )
        record_id = _require(record, "id", (str, int), path, index, None)
        record_id = str(record_id)
        if record_id in seen:
            raise LampDataError(
                path,
                f"duplicate id (first at record {seen[record_id]})",
                index=index,
                record_id=record_id,
                field="id",
            )
        seen[record_id] = index
        input_text = _require(record, "input", str, path, index, record_id)
        profile = _require(record, "profile", list, path, index, record_id)
        user_id = record.get("user_id")
        if user_id is not None and not isinstance(user_id, SCALAR_TYPES):
            raise LampDataError(
                path,
                f"expected str, got {type(user_id).__name__}",
                index=index,
                record_id=record_id,
                field="user_id",
            )
        if validate_profiles:
            _validate_profile(profile, task, path, index, record_id)
        if task.query_fn(input_text) is None:
            logger.warning(
                "%s, record %d, id %r, field 'input': no retrieval query can be extracted "
                "(marker missing)",
                path,
                index,
                record_id,
            )
        examples.append(
            Example(
                id=record_id,
                input=input_text,
                profile=profile,
                user_id=None if user_id is None else str(user_id),
            )
        )
    return examples


def parse_outputs(data: Any, task: Task | None, path: object) -> tuple[str | None, dict[str, str]]:
    """Validate an outputs file (``{"task": "LaMP_k", "golds": [{id, output}]}``).

    Returns the task name found in the file and the outputs by id. When ``task`` is given, the
    file's task name must match it (``LaMP_2`` and ``LaMP-2`` are the same).
    """
    if not isinstance(data, dict):
        raise LampDataError(
            path, f"expected an object with 'task' and 'golds', got {type(data).__name__}"
        )
    if "golds" not in data:
        raise LampDataError(path, "missing field", field="golds")
    task_name = data.get("task")
    if task is not None and task_name is not None:
        try:
            file_task = get_task(str(task_name))
        except LampError:
            raise LampDataError(path, f"unknown task {task_name!r}", field="task") from None
        if file_task is not task:
            raise LampDataError(
                path,
                f"file is for task {task_name!r}, expected {task.official_name!r}",
                field="task",
            )
    golds = data["golds"]
    if not isinstance(golds, list):
        raise LampDataError(path, f"expected a list, got {type(golds).__name__}", field="golds")
    outputs: dict[str, str] = {}
    for index, record in enumerate(golds):
        if not isinstance(record, dict):
            raise LampDataError(
                path, f"expected an object, got {type(record).__name__}", index=index, field="golds"
            )
        record_id = str(_require(record, "id", (str, int), path, index, None))
        if record_id in outputs:
            raise LampDataError(path, "duplicate id", index=index, record_id=record_id, field="id")
        outputs[record_id] = _require(record, "output", SCALAR_TYPES, path, index, record_id)
    return (None if task_name is None else str(task_name)), outputs


def _attach_golds(examples: list[Example], outputs: Mapping[str, Any], path: object) -> None:
    question_ids = {example.id for example in examples}
    missing = [example.id for example in examples if example.id not in outputs]
    extra = [key for key in outputs if key not in question_ids]
    if missing or extra:
        detail = []
        if missing:
            detail.append(f"{len(missing)} question id(s) without output (e.g. {missing[0]!r})")
        if extra:
            detail.append(f"{len(extra)} output id(s) without question (e.g. {extra[0]!r})")
        raise LampDataError(
            path, "ids do not match the questions: " + "; ".join(detail), field="id"
        )
    for example in examples:
        example.gold = str(outputs[example.id])


def candidate_files(root: Path, task: Task, split: str, layout: str) -> list[tuple[Path, Path]]:
    """(questions, outputs) paths a layout would use under ``root``."""
    names = (f"{split}_questions.json", f"{split}_outputs.json")
    folders = {
        "time": [root / "time" / task.official_name / split],
        "user": [root / task.directory / split],
        "flat": [root / split, root],
    }
    chosen = [layout] if layout != "auto" else ["time", "user", "flat"]
    return [(folder / names[0], folder / names[1]) for key in chosen for folder in folders[key]]


def find_split_files(
    root: str | Path, task: str | Task, split: str, layout: str = "auto"
) -> tuple[Path, Path | None]:
    """Locate a split's questions file (and outputs file if present) under ``root``."""
    task = get_task(task)
    root = Path(root)
    if layout not in LAYOUTS:
        raise LampError(f"unknown layout {layout!r}; choose one of {LAYOUTS}")
    if not root.is_dir():
        raise LampDataError(root, "data directory not found")
    found = [(q, o) for q, o in candidate_files(root, task, split, layout) if q.is_file()]
    if not found:
        tried = ", ".join(str(q) for q, _ in candidate_files(root, task, split, layout))
        raise LampDataError(root, f"no {task.name} {split} questions file; looked for {tried}")
    if len(found) > 1 and layout == "auto":
        options = ", ".join(str(q) for q, _ in found)
        raise LampDataError(
            root,
            f"several {task.name} {split} layouts found ({options}); choose one with "
            "layout='time' or layout='user' (--layout)",
        )
    questions, outputs = found[0]
    return questions, (outputs if outputs.is_file() else None)


def load_split(
    source: Any,
    task: str | Task,
    split: str = "dev",
    *,
    layout: str = "auto",
    questions: str | Path | None = None,
    outputs: str | Path | None = None,
    require_golds: bool = False,
    validate_profiles: bool = True,
) -> LampSplit:
    """Load one task's split.

    Args:
        source: a data directory (either published layout), ``None`` when ``questions`` is
            given, ``"hf:NAME[:CONFIG]"`` or a ``datasets.Dataset``/``DatasetDict``.
        task: task name (``"LaMP-2"``, ``"LaMP_2"``) or Task.
        split: ``train``, ``dev`` or ``test``.
        layout: ``auto`` (find it), ``time``, ``user`` or ``flat`` (``DIR/{split}/...``).
        questions, outputs: explicit file paths (override the directory lookup).
        require_golds: raise when no outputs file is found.
        validate_profiles: check every profile item for the task's fields.
    """
    task = get_task(task)
    if _is_hf_source(source):
        from ropg.lamp.hf_source import load_hf_split

        return load_hf_split(
            source, task, split, validate_profiles=validate_profiles, require_golds=require_golds
        )
    if questions is None:
        if source is None:
            raise LampError("give a data directory or a questions file")
        questions, found_outputs = find_split_files(source, task, split, layout)
        outputs = outputs if outputs is not None else found_outputs
    questions = Path(questions)
    examples = parse_questions(read_json(questions), task, questions, validate_profiles)
    if outputs is not None:
        outputs = Path(outputs)
        _, gold_by_id = parse_outputs(read_json(outputs), task, outputs)
        check_golds(task, gold_by_id, outputs)
        _attach_golds(examples, gold_by_id, outputs)
    elif require_golds:
        raise LampDataError(questions, f"no outputs file found for the {split} split")
    logger.info("loaded %s %s: %d examples from %s", task.name, split, len(examples), questions)
    return LampSplit(
        task, split, examples, str(questions), None if outputs is None else str(outputs)
    )


def _is_hf_source(source: Any) -> bool:
    if isinstance(source, str):
        return source.startswith("hf:")
    return type(source).__module__.startswith("datasets")


def examples_from_records(
    records: Iterable[Mapping[str, Any]], task: Task, origin: str, validate_profiles: bool = True
) -> list[Example]:
    """Validate in-memory question records that may carry an ``output`` field."""
    records = [dict(record) for record in records]
    examples = parse_questions(records, task, origin, validate_profiles)
    for example, record in zip(examples, records):
        if record.get("output") is not None:
            example.gold = str(record["output"])
    return examples


def write_predictions(
    path: str | Path, task: str | Task, ids: Sequence[str], outputs: Sequence[str]
) -> None:
    """Write predictions in the official ``{"task", "golds": [{id, output}]}`` shape, atomically."""
    from ropg.utils.io import atomic_write_json

    task = get_task(task)
    if len(ids) != len(outputs):
        raise LampError(f"{len(ids)} ids but {len(outputs)} outputs")
    golds = [{"id": str(i), "output": str(o)} for i, o in zip(ids, outputs)]
    atomic_write_json(path, {"task": task.official_name, "golds": golds})
