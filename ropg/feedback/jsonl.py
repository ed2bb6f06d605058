"""Resumable JSONL output: a header line, then one record per example, appended in order.

A killed job leaves at most one partial trailing line; reopening the file drops it and
reports the ids already written, so a re-run continues where it stopped and produces the
byte-identical file an uninterrupted run would have written.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ropg.errors import DataError

logger = logging.getLogger(__name__)

HEADER_KEY = "ropg_feedback"


def dumps_record(record: Mapping[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, sort_keys=True)


class ResumableJsonl:
    """Append-only JSONL file whose first line is a header describing the job.

    Opening an existing file whose header differs from ``header`` is an error (the job's
    settings changed), or with ``restart_on_mismatch`` starts the file over; a missing file is
    created with the header.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        header: Mapping[str, Any],
        restart_on_mismatch: bool = False,
    ) -> None:
        self.path = Path(path)
        self.header = {HEADER_KEY: dict(header)}
        self.restart_on_mismatch = restart_on_mismatch
        self.done: list[str] = []
        if self.path.exists():
            self._recover()
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._append_lines([dumps_record(self.header)])

    def _recover(self) -> None:
        data = self.path.read_bytes()
        complete = data[: data.rfind(b"\n") + 1]
        if len(complete) != len(data):
            logger.warning("%s: dropping a partial last line left by an interrupted run", self.path)
            with self.path.open("r+b") as stream:
                stream.truncate(len(complete))
        lines = complete.decode("utf-8").splitlines()
        if not lines:
            self._append_lines([dumps_record(self.header)])
            return
        try:
            found = json.loads(lines[0])
        except json.JSONDecodeError:
            raise DataError(self.path, "not a ropg feedback file (bad header)", index=0) from None
        if found != json.loads(dumps_record(self.header)) and self.restart_on_mismatch:
            logger.info("%s was written with other settings: starting it over", self.path)
            self.path.write_bytes(b"")
            self._append_lines([dumps_record(self.header)])
            return
        if found != json.loads(dumps_record(self.header)):
            raise DataError(
                self.path,
                "exists with different settings; use another --out or delete it to start over "
                f"(file: {json.dumps(found.get(HEADER_KEY), sort_keys=True)[:300]})",
                index=0,
            )
        for index, line in enumerate(lines[1:], start=1):
            try:
                self.done.append(str(json.loads(line)["id"]))
            except (json.JSONDecodeError, KeyError):
                raise DataError(self.path, "corrupt record", index=index) from None
        logger.info("%s: resuming after %d finished examples", self.path, len(self.done))

    def _append_lines(self, lines: Iterable[str]) -> None:
        payload = "".join(line + "\n" for line in lines).encode("utf-8")
        with self.path.open("ab") as stream:
            stream.write(payload)
            stream.flush()
            os.fsync(stream.fileno())

    def append(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Append records (each with an ``id``) durably, in one write."""
        records = list(records)
        self._append_lines(dumps_record(record) for record in records)
        self.done.extend(str(record["id"]) for record in records)


def read_feedback(path: str | os.PathLike[str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The header and the records of a feedback file."""
    path = Path(path)
    header: dict[str, Any] | None = None
    records = []
    for index, line in enumerate(_lines(path)):
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            raise DataError(path, "not valid JSON", index=index) from None
        if index == 0:
            if not isinstance(value, dict) or HEADER_KEY not in value:
                raise DataError(path, "not a ropg feedback file (no header)", index=0)
            header = value[HEADER_KEY]
        else:
            records.append(value)
    if header is None:
        raise DataError(path, "empty feedback file")
    return header, records


def _lines(path: Path) -> Iterator[str]:
    try:
        with path.open(encoding="utf-8") as stream:
            for line in stream:
                if line.endswith("\n"):
                    yield line
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
