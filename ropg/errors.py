"""The project's user errors: a problem with what the user gave (files, records, settings).

Every command turns a :class:`UserError` into one line on stderr and exit code 2, never a
traceback. :class:`DataError` names the file, the record and the field. ``ropg.lamp`` keeps its
historical names as aliases (``UserError is UserError``, ``DataError is DataError``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


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
        where = [] if path is None else [str(path)]
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
        super().__init__(f"{', '.join(where)}: {problem}" if where else problem)

    def in_file(self, path: object) -> DataError:
        """This error, naming ``path`` as its file (when it names none yet)."""
        if self.path is not None or path is None:
            return self
        return DataError(
            path, self.problem, index=self.index, record_id=self.record_id, field=self.field
        )


@contextlib.contextmanager
def naming_file(path: object) -> Iterator[None]:
    """Inside the block, a :class:`DataError` about a record that names no file (raised by
    code that sees records, not files: a retriever, a metric) is re-raised naming ``path``."""
    try:
        yield
    except DataError as error:
        named = error.in_file(path)
        if named is error:
            raise
        raise named from None
