"""Reading the JSON files of a LaMP split: msgspec for speed, :mod:`json` for what it refuses.

msgspec parses a LaMP-scale questions file about 3x faster than :mod:`json` (see
``benchmarks/perf/rank_process.py``) but is stricter: a document it refuses (``NaN``, lone
surrogates, numbers beyond a float, invalid JSON or UTF-8, a byte-order mark) is read again by
:mod:`json`, which accepts what it always accepted and reports errors exactly as it always did.
Documents that both accept decode to the same values (``tests/test_lamp_fast_load.py``).
"""

from __future__ import annotations

import json
import mmap
from pathlib import Path
from typing import Any

from ropg.errors import DataError
from ropg.utils.collector import collector_paused

REFUSED = object()
"""What :func:`fast_decode` returns for a document it leaves to :mod:`json`."""


def read_json(path: Path) -> Any:
    """The JSON document in ``path`` (UTF-8); a :class:`DataError` when it cannot be read."""
    try:
        decoded = fast_decode_file(path)
        if decoded is not REFUSED:
            return decoded
        with path.open(encoding="utf-8") as stream:
            return json.load(stream)
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DataError(path, f"not valid JSON ({error})") from None
    except RecursionError:
        raise DataError(path, "JSON nested too deeply to read") from None
    except OSError as error:
        raise DataError(path, f"cannot read file ({error.strerror})") from None


def fast_decode_file(path: Path) -> Any:
    """``path`` decoded by msgspec, read through a memory map (no copy of the file into the
    heap, a fifth of the parse) where the file allows one; :data:`REFUSED` when msgspec is
    missing or refuses it. As with any memory map, a file cut short by another process while
    it is parsed ends this one (SIGBUS) instead of raising an error."""
    with path.open("rb") as stream:
        try:
            mapped = mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ)
        except (ValueError, OSError):  # an empty file, a pipe: read it
            return fast_decode(stream.read())
    with mapped:
        return fast_decode(mapped)


def fast_decode(data: Any) -> Any:
    """``data`` (bytes or a buffer) decoded by msgspec, or :data:`REFUSED`."""
    try:
        import msgspec
    except ImportError:  # pragma: no cover - msgspec is a dependency
        return REFUSED
    try:
        with collector_paused():  # the document has no cycles to find
            return msgspec.json.decode(data)
    except msgspec.DecodeError:  # also its ValidationError ("number out of range")
        return REFUSED
