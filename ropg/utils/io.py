"""Writing outputs safely: atomic files, what a path really is, and output directories.

:func:`atomic_open` writes a temporary file beside the target and renames it over the target
on success, so a reader never sees a half-written output. What it does depends on what the
path is (:func:`output_kind`), so that it always does what the user means or refuses in one
line, and never destroys something that is not a plain output file:

===========================  =====================================================================
the path is                  what happens
===========================  =====================================================================
missing or a regular file    temporary file + rename (permissions of a replaced file are kept)
a symlink                    its target is written (atomically when a regular file); the link stays
a FIFO, a character device   written straight through (``/dev/null``, ``/dev/stdout``, a pipe)
(``/dev/*``, ``/proc/*``)
a directory, a block         refused with a :class:`~ropg.errors.UserError` naming the path
device, a socket
under a file (``f.txt/x``)   refused
===========================  =====================================================================

:func:`check_output_dir` and :func:`prepare_output_dir` are the same for output directories.
"""

from __future__ import annotations

import json
import math
import os
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ropg.errors import UserError

STREAM = "stream"  # written straight through: FIFOs, character devices, /dev/* and /proc/*
REGULAR = "regular"  # a regular file, or nothing yet: written atomically
_SPECIAL_ROOTS = ("/dev/", "/proc/")
_MAX_LINKS = 40


@dataclass(frozen=True)
class OutputTarget:
    """Where a write to ``path`` really goes.

    Attributes:
        path: the path as given.
        target: the file that is written (``path`` with its symlinks followed).
        kind: :data:`REGULAR` (temporary file + rename) or :data:`STREAM` (straight through).
        exists: whether ``target`` exists.
    """

    path: Path
    target: Path
    kind: str
    exists: bool


def _follow_links(path: Path) -> tuple[Path, bool]:
    """``path`` with its symlinks followed one by one (the final link's target, even when it
    does not exist), and whether any step went through ``/dev`` or ``/proc``."""
    current = Path(os.path.abspath(path))
    special = str(current).startswith(_SPECIAL_ROOTS)
    for _ in range(_MAX_LINKS):
        if special or not current.is_symlink():
            return current, special  # /dev and /proc links (pipe:[...]) are left to stat
        link = Path(os.readlink(current))
        current = Path(os.path.abspath(current.parent / link))
        special = special or str(current).startswith(_SPECIAL_ROOTS)
    raise UserError(f"{path}: too many levels of symbolic links")


def _blocking_ancestor(path: Path) -> Path | None:
    """The nearest existing ancestor of ``path`` that is not a directory (None: none)."""
    for parent in path.parents:
        if parent.exists() or parent.is_symlink():
            return None if parent.is_dir() else parent
    return None


def ensure_parent(path: str | os.PathLike[str]) -> Path:
    """Create the directories above ``path``; a :class:`UserError` when one of them is a file."""
    path = Path(path)
    blocking = _blocking_ancestor(path)
    if blocking is not None:
        raise UserError(f"{path}: cannot write there, {blocking} is not a directory")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"{path}: cannot create its directory ({error.strerror})") from None
    return path.parent


def output_kind(path: str | os.PathLike[str], *, resumable: bool = False) -> OutputTarget:
    """What writing a file at ``path`` means (see the module docstring), checked.

    With ``resumable`` (a file that is appended to and read back, such as a feedback file),
    only a regular file (or a symlink to one, or nothing) is accepted.
    """
    given = Path(path)
    target, special = _follow_links(given)
    blocking = _blocking_ancestor(target)
    if blocking is not None:
        raise UserError(f"{given}: cannot write there, {blocking} is not a directory")
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        if special:
            raise UserError(f"{given}: no such device or file") from None
        return OutputTarget(given, target, REGULAR, False)
    except OSError as error:
        raise UserError(f"{given}: cannot use it as an output ({error.strerror})") from None
    if stat.S_ISDIR(mode):
        raise UserError(f"{given}: is a directory; give a file path")
    if stat.S_ISREG(mode) and not special:
        return OutputTarget(given, target, REGULAR, True)
    what = _describe(mode)
    if resumable:
        raise UserError(
            f"{given}: is {what}, not a regular file; this output is resumed (read back and "
            "appended to), so it must be a regular file"
        )
    if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or (special and stat.S_ISREG(mode)):
        return OutputTarget(given, target, STREAM, True)
    raise UserError(f"{given}: is {what}; refusing to write to it")


def check_replaceable(
    path: str | os.PathLike[str],
    *,
    inputs: Iterable[str | os.PathLike[str] | None] = (),
    recognise: Callable[[Path], bool] | None = None,
    what: str = "output",
    overwrite: bool = False,
) -> None:
    """Before a one-shot output is computed, refuse in one line to write it over one of the
    command's ``inputs`` (even with ``overwrite``), or over an existing non-empty regular file
    that ``recognise`` does not take for this kind of ropg output (unless ``overwrite``).
    A missing file, an empty one and a stream (``/dev/null``, a FIFO) pass."""
    target = output_kind(path)
    if not target.exists or target.kind == STREAM:
        return
    for source in inputs:
        if source and os.path.exists(source) and os.path.samefile(target.target, source):
            raise UserError(f"{path}: is an input of this command; write the {what} elsewhere")
    if overwrite or target.target.stat().st_size == 0:
        return
    if recognise is not None and recognise(target.target):
        return
    raise UserError(
        f"{path}: exists and is not a {what} written by ropg; delete it, choose another path "
        "or pass --overwrite"
    )


def json_file_is(path: Path, shape: Callable[[Any], bool]) -> bool:
    """Whether ``path`` holds JSON of the given ``shape`` (False when it is not JSON at all)."""
    try:
        with path.open(encoding="utf-8") as stream:
            return bool(shape(json.load(stream)))
    except (OSError, ValueError, RecursionError):
        return False


def _describe(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISREG(mode):
        return "a special file"
    return "not a regular file"


def _own_stream(path: Path, binary: bool) -> IO[Any] | None:
    """``sys.stdout`` / ``sys.stderr`` (or their buffers) when ``path`` is one of them."""
    import sys

    try:
        found = os.stat(path)
    except OSError:
        return None
    for stream in (sys.stdout, sys.stderr):
        try:
            own = os.fstat(stream.fileno())
        except (AttributeError, OSError, ValueError):
            continue
        if (own.st_dev, own.st_ino) == (found.st_dev, found.st_ino):
            return stream.buffer if binary else stream
    return None


def _new_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open ``path`` for writing as the module docstring says; for a regular file, a
    temporary file next to it that replaces it atomically on success.

    On any exception the temporary file is removed and ``path`` is left untouched, so a
    reader never sees a half-written output. A FIFO or character device (``/dev/null``,
    ``/dev/stdout``) is written straight through, appended to, never replaced.
    """
    if "b" not in mode:
        kwargs.setdefault("encoding", "utf-8")
    where = output_kind(path)
    if where.kind == STREAM:
        try:
            own = _own_stream(where.target, binary="b" in mode)
            if own is not None:  # our stdout/stderr: through Python's buffer, in order
                own.flush()
                yield own
                own.flush()
                return
            with open(where.target, mode.replace("w", "a"), **kwargs) as stream:
                yield stream
        except OSError as error:
            raise UserError(f"{path}: cannot write ({error.strerror or error})") from None
        return
    target = where.target
    ensure_parent(target)
    permissions = stat.S_IMODE(os.stat(target).st_mode) if where.exists else _new_file_mode()
    handle, temp_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
    )
    try:
        os.fchmod(handle, permissions)
        with os.fdopen(handle, mode, **kwargs) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp_name, target)
    except BaseException:
        try:
            os.unlink(temp_name)
        except FileNotFoundError:
            pass
        raise


def json_text(data: Any, indent: int | None = None, **options: Any) -> str:
    """``data`` as strict JSON (no NaN or Infinity, which JSON does not have); a non-finite
    number is a :class:`UserError` naming where it is (``metrics.MAE``)."""
    try:
        return json.dumps(data, ensure_ascii=False, indent=indent, allow_nan=False, **options)
    except ValueError:
        where = non_finite_path(data)
        if where is None:
            raise
        raise UserError(
            f"cannot write {where or 'the value'} as JSON: it is not a finite number"
        ) from None


def non_finite_path(data: Any, prefix: str = "") -> str | None:
    """The dotted path of the first NaN or infinity in ``data`` (None: none)."""
    if isinstance(data, float) and not math.isfinite(data):
        return prefix
    if isinstance(data, dict):
        for key, value in data.items():
            found = non_finite_path(value, f"{prefix}.{key}" if prefix else str(key))
            if found is not None:
                return found
    if isinstance(data, (list, tuple)):
        for index, value in enumerate(data):
            found = non_finite_path(value, f"{prefix}[{index}]")
            if found is not None:
                return found
    return None


def finite_or_none(data: Any) -> Any:
    """``data`` with every NaN or infinity replaced by ``None`` (JSON ``null``): for facts that
    are informational (a unit's done marker), where a non-finite number must not stop a run."""
    if isinstance(data, float) and not math.isfinite(data):
        return None
    if isinstance(data, dict):
        return {key: finite_or_none(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return [finite_or_none(value) for value in data]
    return data


def atomic_write_json(path: str | os.PathLike[str], data: Any, indent: int | None = None) -> None:
    """Write ``data`` as JSON (UTF-8, non-ASCII kept, strict: no NaN) atomically."""
    text = json_text(data, indent=indent)
    with atomic_open(path) as stream:
        stream.write(text)


def check_output_dir(path: str | os.PathLike[str]) -> Path:
    """The directory ``path`` really is (symlinks followed), checked without creating
    anything: a :class:`UserError` when it or one of its parents is not a directory."""
    given = Path(path)
    target, _ = _follow_links(given)
    blocking = _blocking_ancestor(target)
    if blocking is not None:
        raise UserError(f"{given}: cannot create a directory there, {blocking} is not a directory")
    if target.exists() and not target.is_dir():
        try:
            what = _describe(os.stat(target).st_mode)
        except OSError:
            what = "not a directory"
        what = "a file" if target.is_file() else what
        raise UserError(f"{given}: is {what}, not a directory; give a directory path")
    return target


def prepare_output_dir(path: str | os.PathLike[str]) -> Path:
    """Create the output directory ``path`` (and its parents) after :func:`check_output_dir`
    (a symlink to a directory is followed); returns ``path``."""
    target = check_output_dir(path)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserError(f"{path}: cannot create the directory ({error.strerror})") from None
    return Path(path)


def directory_entries(path: str | os.PathLike[str]) -> list[str]:
    """The names in directory ``path`` (``[]`` when it does not exist)."""
    try:
        return sorted(os.listdir(path))
    except FileNotFoundError:
        return []
    except NotADirectoryError:
        raise UserError(f"{path}: is a file, not a directory") from None
