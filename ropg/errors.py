"""The project's user errors: a problem with what the user gave (files, records, settings).

Every command turns a :class:`UserError` into one line on stderr and exit code 2, never a
traceback. :class:`DataError` names the file, the record and the field. ``ropg.lamp`` keeps its
historical names as aliases (``UserError is UserError``, ``DataError is DataError``).
"""

from __future__ import annotations


class UserError(ValueError):
    """A problem with user-supplied data or options; the message is meant for the user."""


class DataError(UserError):
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
