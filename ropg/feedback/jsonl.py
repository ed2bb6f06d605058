"""Resumable JSONL output: a header line, then one record per example, appended in order.

A killed job leaves at most one partial trailing line; reopening the file drops it and
reports the ids already written, so a re-run continues where it stopped and produces the
byte-identical file an uninterrupted run would have written.

What is resumed, refused and never touched (the README: "What ropg promises about your files"):

- only a file that is recognisably this kind of output — its first line a ``ropg_feedback``
  header — is ever modified; anything else (a questions file, a pretty-printed JSON, a binary
  file, a JSONL whose first line is something else) is refused untouched;
- a file of the same job is resumed (a torn last line dropped, only once every check passed);
  one of another job is refused, or started over with ``restart_on_mismatch``; one that holds
  a header and no record is ours and empty, so it is started over;
- nothing is written until the job has records to write: the header goes out with the first
  records, and a job that fails before that leaves no file behind;
- the file is locked (``flock`` on the file itself) while it is open, so a second writer of the
  same output is refused with one line instead of duplicating every record;
- the output must be a regular file (or a symlink to one, whose target is written).
"""

from __future__ import annotations

import json
import logging
import os
import weakref
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ropg.errors import DataError
from ropg.utils.io import ensure_parent, json_text, output_kind
from ropg.utils.locks import try_lock

logger = logging.getLogger(__name__)

HEADER_KEY = "ropg_feedback"
_HEADER_START = ('{"' + HEADER_KEY + '":').encode()
_OPEN: dict[tuple[int, int], weakref.ref[ResumableJsonl]] = {}
"""This process's open writers by file (device, inode)."""


def dumps_record(record: Mapping[str, Any]) -> str:
    """One JSONL line (strict JSON: a NaN or an infinity is an error naming its field)."""
    return json_text(record, sort_keys=True)


def _load_line(line: bytes) -> Any:
    """A JSON value from one line; ``ValueError`` when it is not one."""
    try:
        return json.loads(line.decode("utf-8"))
    except RecursionError:
        raise ValueError("nested too deeply") from None


def expected_records(header: Mapping[str, Any]) -> int | None:
    """How many records a finished file with ``header`` holds: its ``examples``, or for a
    shard (``shard: [index, count]``) the examples that shard takes (None: not said)."""
    examples = header.get("examples")
    if isinstance(examples, bool) or not isinstance(examples, int):
        return None
    shard = header.get("shard")
    if isinstance(shard, list) and len(shard) == 2 and all(isinstance(v, int) for v in shard):
        index, count = shard
        return len(range(index, examples, count)) if count > 0 else None
    return examples


class ResumableJsonl:
    """Append-only JSONL file whose first line is a header describing the job.

    Use it as a context manager (or call :meth:`finish` and :meth:`close`): the header is
    written with the first records, :meth:`finish` writes it alone for a job with nothing to
    write, and the lock on the file is held until :meth:`close`. See the module docstring for
    what is resumed and what is refused.

    Args:
        path: the output file.
        header: what decides the records (task, split, LLM, settings, data digests, ...).
        restart_on_mismatch: a file of this kind written with another header is started over
            instead of refused.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        header: Mapping[str, Any],
        restart_on_mismatch: bool = False,
    ) -> None:
        self.path = Path(path)
        self.header = {HEADER_KEY: dict(header)}
        self._header_line = dumps_record(self.header)
        self.restart_on_mismatch = restart_on_mismatch
        self.done: list[str] = []
        self._descriptor: int | None = None
        self._locked = False
        self._created = False
        self._emptied = False
        self._header_written = False
        where = output_kind(self.path, resumable=True)
        self.target = where.target
        ensure_parent(self.target)
        self._open()
        try:
            assert self._descriptor is not None
            self._take_over_from_this_process()
            try_lock(self._descriptor, self.path, "another job is writing this file")
            self._locked = True
            _OPEN[self._key] = weakref.ref(self)
            self._recover()
        except BaseException:
            self.close()
            raise

    def _take_over_from_this_process(self) -> None:
        """An earlier writer of this file in this process that was never closed (its job
        failed and a traceback keeps it alive) gives up the file: a retry in the same process
        is not refused as "another job". Other processes are refused by the lock."""
        assert self._descriptor is not None
        found = os.fstat(self._descriptor)
        self._key = (found.st_dev, found.st_ino)
        earlier = _OPEN.get(self._key)
        writer = earlier() if earlier is not None else None
        if writer is not None and writer is not self:
            logger.debug("%s: taking over from an unclosed writer of this process", self.path)
            writer._release()

    # -- opening ------------------------------------------------------------------------------
    def _open(self) -> None:
        flags = os.O_RDWR | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
        try:
            self._descriptor = os.open(self.target, flags)
        except FileNotFoundError:
            try:
                self._descriptor = os.open(self.target, flags | os.O_CREAT | os.O_EXCL, 0o666)
                self._created = True
            except FileExistsError:  # another process created it a moment ago
                self._descriptor = os.open(self.target, flags)
        except OSError as error:
            raise DataError(self.path, f"cannot open for writing ({error.strerror})") from None

    def _read(self) -> bytes:
        assert self._descriptor is not None
        chunks, offset = [], 0
        while chunk := os.pread(self._descriptor, 1 << 20, offset):
            chunks.append(chunk)
            offset += len(chunk)
        return b"".join(chunks)

    def _foreign(self, why: str) -> DataError:
        return DataError(
            self.path,
            f"is not a ropg output of this kind ({why}); it was left untouched: give another "
            "output path",
        )

    def _start_over(self, reason: str) -> None:
        assert self._descriptor is not None
        logger.info("%s: %s; starting it over", self.path, reason)
        os.ftruncate(self._descriptor, 0)
        self._emptied = True
        self.done = []

    def _recover(self) -> None:
        """Check the existing content; only when every check passed may it be changed."""
        data = self._read()
        if not data:
            return  # new, or ours and empty: the header goes out with the first records
        end = data.find(b"\n")
        if end < 0:  # one line, unfinished
            if data.startswith(_HEADER_START):  # our header, torn by a kill: nothing is lost
                self._start_over("only a partial header line was written")
                return
            raise self._foreign("its first line is not a 'ropg_feedback' header")
        try:
            found = _load_line(data[:end])
        except ValueError:
            raise self._foreign("its first line is not JSON") from None
        if not (isinstance(found, dict) and list(found) == [HEADER_KEY]
                and isinstance(found[HEADER_KEY], dict)):  # fmt: skip
            raise self._foreign("its first line is not a 'ropg_feedback' header")
        complete = data[: data.rfind(b"\n") + 1]
        lines = complete.split(b"\n")[1:-1]
        if found != json.loads(self._header_line):
            if not lines:
                self._start_over("it holds a header of other settings and no record")
            elif self.restart_on_mismatch:
                self._start_over("it was written with other settings")
            else:
                raise DataError(
                    self.path,
                    "exists with different settings; use another output or delete it to start "
                    f"over (file: {json.dumps(found[HEADER_KEY], sort_keys=True)[:300]})",
                    index=0,
                )
            return
        seen: set[str] = set()
        for index, line in enumerate(lines, start=1):
            try:
                record = _load_line(line)
            except ValueError:
                raise DataError(self.path, "corrupt record (not JSON)", index=index) from None
            if not isinstance(record, dict) or "id" not in record:
                raise DataError(self.path, "corrupt record (no id)", index=index)
            record_id = str(record["id"])
            if record_id in seen:
                raise DataError(
                    self.path, "duplicate record (two jobs wrote this file?)", index=index,
                    record_id=record_id,
                )  # fmt: skip
            seen.add(record_id)
            self.done.append(record_id)
        if len(complete) != len(data):
            logger.warning("%s: dropping a partial last line left by an interrupted run", self.path)
            assert self._descriptor is not None
            os.ftruncate(self._descriptor, len(complete))
        self._header_written = True
        logger.info("%s: resuming after %d finished examples", self.path, len(self.done))

    # -- writing ------------------------------------------------------------------------------
    def _write(self, lines: list[str]) -> None:
        if self._descriptor is None:
            raise DataError(self.path, "is closed")
        if not self._header_written:
            lines = [self._header_line, *lines]
        payload = memoryview("".join(line + "\n" for line in lines).encode("utf-8"))
        while payload:
            written = os.write(self._descriptor, payload)
            payload = payload[written:]
        os.fsync(self._descriptor)
        self._header_written = True

    def append(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Append records (each with an ``id``) durably, in one write (the header first, when
        the file has none yet)."""
        records = list(records)
        if not records:
            return
        self._write([dumps_record(record) for record in records])
        self.done.extend(str(record["id"]) for record in records)

    def finish(self) -> None:
        """The job is done: a file that got no record still gets its header."""
        if not self._header_written:
            self._write([])

    def close(self) -> None:
        """Release the lock; a file this job created or emptied and never wrote is removed."""
        descriptor = getattr(self, "_descriptor", None)
        if descriptor is None:
            return
        try:
            if self._locked and not self._header_written and (self._created or self._emptied):
                try:
                    if os.fstat(descriptor).st_size == 0:
                        os.unlink(self.target)
                except OSError:
                    pass
        finally:
            self._release()

    def _release(self) -> None:
        """Close the file (which releases the lock), touching nothing."""
        descriptor = getattr(self, "_descriptor", None)
        self._descriptor = None
        if descriptor is None:
            return
        key = getattr(self, "_key", None)
        if key is not None and _OPEN.get(key) is not None and _OPEN[key]() is self:
            del _OPEN[key]
        os.close(descriptor)

    def __enter__(self) -> ResumableJsonl:
        return self

    def __exit__(self, kind: Any, value: Any, traceback: Any) -> None:
        try:
            if kind is None:
                self.finish()
        finally:
            self.close()

    def __del__(self) -> None:
        self.close()


def read_feedback(
    path: str | os.PathLike[str], *, complete: bool = True
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The header and the records of a finished feedback file (or any ResumableJsonl file).

    Refused with a :class:`DataError` naming the file and the record: a file without a
    ``ropg_feedback`` header, a line that is not JSON, a duplicated id, and (with
    ``complete``, the default) a file holding fewer or more records than its header's
    ``examples`` announce (a shard file: the examples of its shard), or ending in a partial
    line: an unfinished job must be finished before its output is read.
    """
    path = Path(path)
    data = _read_bytes(path)
    if not data:
        raise DataError(path, "empty feedback file")
    lines = data.split(b"\n")
    torn = lines.pop()  # b"" when the file ends with a newline
    header: dict[str, Any] | None = None
    records: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for index, line in enumerate(lines):
        try:
            value = _load_line(line)
        except ValueError as error:
            problem = "nested too deeply" if "nested" in str(error) else "not valid JSON"
            raise DataError(path, problem, index=index) from None
        if index == 0:
            if not isinstance(value, dict) or not isinstance(value.get(HEADER_KEY), dict):
                raise DataError(path, "not a ropg feedback file (no header)", index=0)
            header = value[HEADER_KEY]
            continue
        if isinstance(value, dict) and "id" in value:
            record_id = str(value["id"])
            if record_id in seen:
                raise DataError(
                    path, f"duplicate record (also record {seen[record_id]})", index=index,
                    record_id=record_id,
                )  # fmt: skip
            seen[record_id] = index
        records.append(value)
    if header is None:
        raise DataError(path, "not a ropg feedback file (no complete header line)", index=0)
    if complete:
        if torn:
            raise DataError(
                path, "ends with a partial line: an unfinished job; re-run it to finish",
                index=len(lines),
            )  # fmt: skip
        expected = expected_records(header)
        if expected is not None and len(records) != expected:
            raise DataError(
                path,
                f"holds {len(records)} record(s) where its header announces {expected}"
                + (": an unfinished job; re-run it to finish" if len(records) < expected else ""),
            )
    return header, records


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except IsADirectoryError:
        raise DataError(path, "is a directory, not a feedback file") from None
    except OSError as error:
        raise DataError(path, f"cannot read file ({error.strerror})") from None
