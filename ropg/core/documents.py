"""Retrieval documents of profile items, shared by every task kind (LaMP, passage completion)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ropg.errors import UserError


def dated_document(text: str, item: Mapping[str, Any], use_date: bool, owner: str = "") -> str:
    """A profile item's retrieval ``text``, with ``" date: {date}"`` appended when
    ``use_date`` (the LaMP paper's document form); an item without a date is a
    :class:`~ropg.errors.UserError` naming ``owner`` (the task) and the item."""
    if not use_date:
        return text
    if "date" not in item:
        prefix = f"{owner}: " if owner else ""
        raise UserError(f"{prefix}profile item {item.get('id')!r} has no 'date' but use_date is on")
    return f"{text} date: {item['date']}"
