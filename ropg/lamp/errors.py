"""Errors raised for user input problems (bad files, records, fields, task names)."""

from __future__ import annotations


class LampError(ValueError):
    """A problem with user-supplied LaMP data or options; the message is meant for the user."""


class LampDataError(LampError):
    """A data file is unreadable or malformed. The message names the file, record and field."""

    def __init__(
        self,
        path: object,
        problem: str,
        *,
        index: int | None = None,
        record_id: object = None,
        field: str | None = None,
    ) -> None:
        where = [str(path)]
        if index is not None:
            where.append(f"record {index}")
        if record_id is not None:
            where.append(f"id {record_id!r}")
        if field is not None:
            where.append(f"field {field!r}")
        self.path = path
        self.index = index
        self.record_id = record_id
        self.field = field
        self.problem = problem
        super().__init__(f"{', '.join(where)}: {problem}")
