"""Data builders: documents or examples from JSONL documents, LaMP profiles and LongLaMP.

- **JSONL documents** (:func:`read_documents_jsonl`): one ``{user_id, id, date, title, text}``
  object a line (``date`` and ``title`` optional; ``date`` a string or a number), e.g. Amazon
  reviews or Reddit posts exported by the user. The paper's rules and user split follow
  (:func:`ropg.multistage.documents.build_splits`).
- **LaMP profiles** (:func:`documents_from_lamp`): the profile items of LaMP-4/5/6/7 (any
  loaded split, ``ropg.lamp.load_split``) as documents of their user (the question's
  ``user_id``, else the question id), de-duplicated by item id; then the same rules.
- **LongLaMP records** (:mod:`ropg.multistage.longlamp`): one example per record, in the data
  set's own train/val/test split.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ropg.errors import DataError, UserError
from ropg.multistage.documents import Document

DATE_TYPES = (str, int, float)
LAMP_FIELDS = {  # task -> (title field or None, text field) of a profile item
    "LaMP-4": ("title", "text"),
    "LaMP-5": ("title", "abstract"),
    "LaMP-6": ("title", "text"),
    "LaMP-7": (None, "text"),
}


def _string(
    record: dict[str, Any],
    key: str,
    path: object,
    index: int,
    record_id: object,
    required: bool = True,
    types: tuple[type, ...] = (str,),
) -> Any:
    if key not in record or record[key] is None:
        if required:
            raise DataError(path, "missing field", index=index, record_id=record_id, field=key)
        return None
    value = record[key]
    if not isinstance(value, types) or isinstance(value, bool):
        names = "/".join(t.__name__ for t in types)
        raise DataError(
            path,
            f"expected {names}, got {type(value).__name__}",
            index=index,
            record_id=record_id,
            field=key,
        )
    return value


def document_from_record(record: Any, path: object, index: int) -> Document:
    """Validate one ``{user_id, id, date, title, text}`` record (index = line number, 1-based)."""
    if not isinstance(record, dict):
        raise DataError(path, f"expected a JSON object, got {type(record).__name__}", index=index)
    record_id = record.get("id")
    user = _string(record, "user_id", path, index, record_id, types=(str, int))
    doc_id = _string(record, "id", path, index, record_id, types=(str, int))
    text = _string(record, "text", path, index, record_id)
    title = _string(record, "title", path, index, record_id, required=False) or ""
    date = _string(record, "date", path, index, record_id, required=False, types=DATE_TYPES)
    return Document(str(user), str(doc_id), text, title, date, index)


def read_documents_jsonl(path: str | Path) -> list[Document]:
    """Documents from a JSONL file; a malformed line is a DataError naming line and field."""
    path = Path(path)
    documents: list[Document] = []
    seen: dict[tuple[str, str], int] = {}
    try:
        stream = path.open(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    with stream:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise DataError(path, f"not valid JSON ({error.msg})", index=number) from None
            document = document_from_record(record, path, number)
            key = (document.user_id, document.id)
            if key in seen:
                raise DataError(
                    path,
                    f"duplicate id for user {document.user_id!r} (first on line {seen[key]})",
                    index=number,
                    record_id=document.id,
                    field="id",
                )
            seen[key] = number
            documents.append(document)
    if not documents:
        raise DataError(path, "no documents")
    return documents


def documents_from_lamp(
    source: Any, task: str, splits: Sequence[str] = ("train", "dev", "test"), layout: str = "auto"
) -> list[Document]:
    """The profile items of a LaMP generation task's splits as users' documents."""
    from ropg.lamp import get_task, load_split

    resolved = get_task(task)
    if resolved.name not in LAMP_FIELDS:
        raise UserError(f"LaMP documents: use LaMP-4, -5, -6 or -7, not {resolved.name}")
    title_field, text_field = LAMP_FIELDS[resolved.name]
    documents: list[Document] = []
    seen: set[tuple[str, str]] = set()
    for split in splits:
        loaded = load_split(source, resolved, split, layout=layout)
        for example in loaded.examples:
            user = str(example.user_id if example.user_id is not None else example.id)
            for item in example.profile:
                key = (user, str(item["id"]))
                if key in seen:
                    continue
                seen.add(key)
                title = str(item.get(title_field) or "") if title_field else ""
                date = item.get("date")
                documents.append(
                    Document(
                        user,
                        key[1],
                        str(item[text_field]),
                        title,
                        date if isinstance(date, DATE_TYPES) else None,
                        len(documents),
                    )
                )
    if not documents:
        raise UserError(f"no profile items in {resolved.name} {list(splits)} of {source}")
    return documents


def documents_from_texts(items: Iterable[tuple[str, str, str]]) -> list[Document]:
    """Documents from ``(user_id, id, text)`` triples (in that order)."""
    return [Document(str(u), str(i), str(t), position=n) for n, (u, i, t) in enumerate(items)]
