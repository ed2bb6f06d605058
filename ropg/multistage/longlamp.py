"""LongLaMP records as passage-completion examples.

LongLaMP (Hugging Face ``LongLaMP/LongLaMP``, configs ``{subset}_{setting}``: subsets
``product_review``, ``topic_writing``, ``abstract_generation``; settings ``user``, ``temporal``;
splits ``train``/``val``/``test``) gives one record per target: the author's id, ``input`` (an
instruction), ``output`` (the document to write) and ``profile`` (the author's other documents).
Profile items per subset (title field, text field, id, date):

==================== ================ ============ ============== ===========
subset               user id field    title        text           id / date
==================== ================ ============ ============== ===========
product_review       ``reviewerId``   ``summary``  ``reviewText`` - / -
topic_writing        ``author``       ``summary``  ``content``    ``id`` / -
abstract_generation  ``name``         ``title``    ``abstract``   ``id`` / ``year``
==================== ================ ============ ============== ===========

A record becomes one example: the document is the ``output`` (no title), the immediate context
its first characters, the profile its items (an item without an id gets ``p{position}``), the
split LongLaMP's own (``val`` is ``dev``). The length and earlier-document rules apply to each
record, the per-user rules within each split. LongLaMP's user setting has one record per user,
so use ``min_examples_per_user: 1`` there.

Sources: a local directory of JSON (a list of records) or JSONL files whose names end with the
split (``train.json``, ``product_review_user_val.jsonl``, ...), or ``hf:NAME[:CONFIG]`` read
with ``datasets.load_dataset(NAME, CONFIG, split=...)`` (a hub id or a local dataset
directory).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ropg.errors import DataError, UserError
from ropg.multistage.documents import (
    SPLITS,
    PassageExample,
    PassageRules,
    PassageSplit,
    apply_user_rules,
    cut_context,
)

HF_SPLITS = {"train": "train", "dev": "val", "test": "test"}
FILE_SPLITS = {"train": ("train",), "dev": ("val", "dev", "validation"), "test": ("test",)}


@dataclass(frozen=True)
class LongLampSubset:
    """Where a subset keeps the user id and the items' title, text, id and date."""

    name: str
    user_field: str
    title_field: str
    text_field: str
    id_field: str | None = None
    date_field: str | None = None


SUBSETS = {
    subset.name: subset
    for subset in (
        LongLampSubset("product_review", "reviewerId", "summary", "reviewText"),
        LongLampSubset("topic_writing", "author", "summary", "content", "id"),
        LongLampSubset("abstract_generation", "name", "title", "abstract", "id", "year"),
    )
}


def get_subset(name: str) -> LongLampSubset:
    try:
        return SUBSETS[name]
    except KeyError:
        raise UserError(
            f"unknown LongLaMP subset {name!r}; choose one of {list(SUBSETS)}"
        ) from None


def infer_subset(source: str, records: list[Any]) -> LongLampSubset:
    """The subset named in the source (``..._user``) or recognised by a record's user field."""
    for name, subset in SUBSETS.items():
        if name in source:
            return subset
    for subset in SUBSETS.values():
        if records and isinstance(records[0], dict) and subset.user_field in records[0]:
            return subset
    raise UserError(f"{source}: cannot tell the LongLaMP subset; set longlamp_subset")


def _find_file(directory: Path, split: str) -> Path | None:
    found = [
        path
        for path in sorted(directory.iterdir())
        if path.suffix in (".json", ".jsonl")
        and any(path.stem == name or path.stem.endswith(f"_{name}") for name in FILE_SPLITS[split])
    ]
    if len(found) > 1:
        raise UserError(f"{directory}: several {split} files: {[p.name for p in found]}")
    return found[0] if found else None


def _read_file(path: Path) -> list[Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise DataError(path, f"cannot read file ({error.strerror})") from None
    if path.suffix == ".jsonl":
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as error:
                    raise DataError(path, f"not valid JSON ({error.msg})", index=number) from None
        return records
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise DataError(path, f"not valid JSON ({error.msg})") from None
    if not isinstance(data, list):
        raise DataError(path, f"expected a JSON list of records, got {type(data).__name__}")
    return data


def load_records(source: str | Path, split: str) -> tuple[list[Any], str] | None:
    """The raw records of one split and where they came from (None: the split is absent)."""
    text = str(source)
    if text.startswith("hf:"):
        import datasets

        name, _, config = text[len("hf:") :].partition(":")
        try:
            dataset = datasets.load_dataset(name, config or None, split=HF_SPLITS[split])
        except ValueError as error:
            if "split" in str(error).lower():
                return None
            raise UserError(f"cannot load {text!r} split {HF_SPLITS[split]!r}: {error}") from None
        except Exception as error:  # datasets raises many kinds; report them as one
            raise UserError(f"cannot load {text!r} split {HF_SPLITS[split]!r}: {error}") from None
        return [dict(record) for record in dataset], f"{text}[{HF_SPLITS[split]}]"
    directory = Path(source)
    if not directory.is_dir():
        raise UserError(f"{directory}: not a directory of LongLaMP files")
    path = _find_file(directory, split)
    if path is None:
        return None
    return _read_file(path), str(path)


def _field(
    record: Mapping[str, Any],
    key: str,
    origin: str,
    index: int,
    record_id: object,
    where: str = "",
    types: tuple[type, ...] = (str,),
) -> Any:
    if key not in record or record[key] is None:
        raise DataError(
            origin, "missing field", index=index, record_id=record_id, field=where + key
        )
    value = record[key]
    if not isinstance(value, types) or isinstance(value, bool):
        raise DataError(
            origin,
            f"expected a string, got {type(value).__name__}",
            index=index,
            record_id=record_id,
            field=where + key,
        )
    return value


def record_example(
    record: Any, subset: LongLampSubset, origin: str, index: int, rules: PassageRules
) -> PassageExample | None:
    """One validated record as an example (None when a length rule drops it)."""
    if not isinstance(record, dict):
        raise DataError(origin, f"expected an object, got {type(record).__name__}", index=index)
    user = str(_field(record, subset.user_field, origin, index, None, types=(str, int)))
    output = _field(record, "output", origin, index, user)
    profile_data = record.get("profile")
    if not isinstance(profile_data, list):
        raise DataError(origin, "expected a list", index=index, record_id=user, field="profile")
    profile = []
    for position, item in enumerate(profile_data):
        where = f"profile[{position}]."
        if not isinstance(item, dict):
            raise DataError(
                origin,
                "expected an object",
                index=index,
                record_id=user,
                field=f"profile[{position}]",
            )
        text = _field(item, subset.text_field, origin, index, user, where)
        title = item.get(subset.title_field)
        converted: dict[str, Any] = {
            "id": str(item.get(subset.id_field) or f"p{position}")
            if subset.id_field
            else f"p{position}",
            "title": str(title) if isinstance(title, (str, int, float)) else "",
            "text": text,
        }
        if subset.date_field and item.get(subset.date_field) is not None:
            converted["date"] = item[subset.date_field]
        profile.append(converted)
    if len(output) <= rules.min_document_chars or len(profile) < rules.min_earlier_documents:
        return None
    context, rest = cut_context(output, rules.context_chars, rules.context_cut)
    return PassageExample(f"{user}/r{index}", context, profile, user, rest)


def longlamp_splits(
    source: str | Path, rules: PassageRules, subset: str = "auto", task: Any = None
) -> dict[str, PassageSplit]:
    """The train/dev/test passage-completion splits of a LongLaMP source (module docstring)."""
    splits: dict[str, PassageSplit] = {}
    resolved: LongLampSubset | None = None if subset == "auto" else get_subset(subset)
    for split in SPLITS:
        loaded = load_records(source, split)
        if loaded is None:
            splits[split] = PassageSplit(task, split, [])
            continue
        records, origin = loaded
        if resolved is None:
            resolved = infer_subset(str(source), records)
        examples = _examples(records, resolved, origin, rules)
        splits[split] = PassageSplit(task, split, examples, origin)
    if not any(len(split) for split in splits.values()):
        raise UserError(
            f"{source}: no LongLaMP examples left after the rules (for the user setting, "
            "which has one record per user, set min_examples_per_user=1)"
        )
    return splits


def _examples(
    records: Iterable[Any], subset: LongLampSubset, origin: str, rules: PassageRules
) -> list[PassageExample]:
    by_user: dict[str, list[PassageExample]] = defaultdict(list)
    order = []
    for index, record in enumerate(records):
        example = record_example(record, subset, origin, index, rules)
        if example is not None:
            by_user[str(example.user_id)].append(example)
            order.append(example.id)
    kept = apply_user_rules(by_user, rules)
    kept_ids = {example.id for examples in kept.values() for example in examples}
    chosen = {example.id: example for examples in kept.values() for example in examples}
    return [chosen[example_id] for example_id in order if example_id in kept_ids]
