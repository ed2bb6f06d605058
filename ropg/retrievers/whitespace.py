"""Python's whitespace (``str.split()``) for byte-level tokenizers, and batch text encoding."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

PADDING = " " * 16  # so that 8-byte reads past a token's end stay inside the buffer
_SEPARATOR = "\x00"


@functools.cache
def python_whitespace() -> tuple[np.ndarray, tuple[bytes, ...]]:
    """Python's own whitespace (``str.isspace``): a table of the single-byte characters and the
    UTF-8 encodings of the others.

    Unicode has no whitespace outside the Basic Multilingual Plane, so scanning it suffices.
    """
    chars = [chr(code) for code in range(0x10000) if chr(code).isspace()]
    table = np.zeros(256, dtype=np.bool_)
    table[[ord(c) for c in chars if ord(c) < 128]] = True
    return table, tuple(c.encode("utf-8") for c in chars if ord(c) >= 128)


@functools.cache
def _wide_codes() -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Lead bytes of multi-byte whitespace, and per length the sequences as integers."""
    wide = python_whitespace()[1]
    leads = np.array(sorted({sequence[0] for sequence in wide}), dtype=np.uint8)
    codes = {
        length: np.array(
            [int.from_bytes(s, "big") for s in wide if len(s) == length], dtype=np.int64
        )
        for length in sorted({len(s) for s in wide})
    }
    return leads, codes


@dataclass(frozen=True)
class EncodedBatch:
    """Texts joined into one UTF-8 buffer that a byte scanner can split like ``str.split()``.

    Attributes:
        data: the bytes (uint8): a separator, then each text followed by a separator, then
            :data:`PADDING`. Multi-byte whitespace is overwritten with ASCII spaces (as many
            as it has bytes, so offsets do not move).
        starts: ``starts[i]`` is the byte offset of text ``i``; ``starts[-1]`` is past the last.
        space: whitespace flag per byte value (the separator byte counts as whitespace).
        simple: no byte <= 32 other than whitespace and separators: ``byte <= 32`` is the test.
    """

    data: np.ndarray
    starts: np.ndarray
    space: np.ndarray
    simple: bool

    def words(self) -> np.ndarray:
        """The buffer as unaligned little-endian uint64 read at every byte offset."""
        return np.ndarray(shape=(len(self.data) - 7,), dtype="<u8", buffer=self.data, strides=(1,))


def _blank_wide_whitespace(data: np.ndarray) -> np.ndarray:
    """``data`` with every multi-byte whitespace character replaced by ASCII spaces.

    UTF-8 is self-synchronizing: a byte match of a whole character's encoding is that character.
    """
    leads, codes = _wide_codes()
    candidates = np.flatnonzero(data[:-2] >= leads[0])  # multi-byte leads start at 0xC2
    candidates = candidates[np.isin(data[candidates], leads)]
    if not len(candidates):
        return data
    following = data[candidates[:, None] + np.arange(3)].astype(np.int64)
    hits: list[tuple[np.ndarray, int]] = []
    for length, known in codes.items():
        value = np.zeros(len(candidates), dtype=np.int64)
        for k in range(length):
            value = (value << 8) | following[:, k]
        hits.append((candidates[np.isin(value, known)], length))
    if not any(len(found) for found, _ in hits):
        return data
    data = data.copy()
    for found, length in hits:
        for k in range(length):
            data[found + k] = 32
    return data


def _starts(lengths: np.ndarray) -> np.ndarray:
    """Offsets of texts of these byte lengths in ``" " + " ".join(texts)``, plus the end."""
    starts = np.empty(len(lengths) + 1, dtype=np.int64)
    starts[0] = 1
    np.cumsum(lengths + 1, out=starts[1:])
    starts[1:] += 1
    return starts


def _one_byte(joined: str) -> np.ndarray | None:
    """``joined`` as ASCII or Latin-1 bytes (a copy of CPython's own buffer), else None."""
    try:
        return np.frombuffer(joined.encode("latin-1"), dtype=np.uint8)
    except UnicodeEncodeError:
        return None


def encode_batch(texts: Sequence[str]) -> EncodedBatch:
    """Encode ``texts`` for byte-level whitespace tokenization (see :class:`EncodedBatch`).

    Texts whose characters all fit in one byte (ASCII, Latin-1) are encoded as Latin-1, which
    copies CPython's own buffer; byte offsets are then character offsets. Others are encoded
    as UTF-8 and joined with NUL separators, found back in the bytes (when a text itself
    contains NUL, which is no whitespace for Python, their UTF-8 lengths are measured one by
    one instead). Lone surrogates are kept (``surrogatepass``). Either way distinct tokens get
    distinct bytes, which is all the tokenizer needs.
    """
    table = python_whitespace()[0]
    separators = 0
    joined = " ".join(["", *texts, PADDING])
    data = _one_byte(joined)
    if data is not None:
        starts = _starts(np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)))
        space = table
        if any(char in joined for char in _latin1_wide_spaces()):  # U+0085, U+00A0
            data = data.copy()
            data[_latin1_space()[data] & (data >= 0x80)] = 32
    else:
        joined = _SEPARATOR.join(["", *texts, PADDING])
        data = np.frombuffer(joined.encode("utf-8", "surrogatepass"), dtype=np.uint8)
        found = np.flatnonzero(data == 0)  # UTF-8 has no 0 byte but for NUL itself
        if len(found) == len(texts) + 1:
            starts = found + 1
            space = table.copy()
            space[0] = True
            separators = len(found)
        else:  # a text contains NUL: join with spaces and measure the texts
            joined = " ".join(["", *texts, PADDING])
            data = np.frombuffer(joined.encode("utf-8", "surrogatepass"), dtype=np.uint8)
            lengths = (len(text.encode("utf-8", "surrogatepass")) for text in texts)
            starts = _starts(np.fromiter(lengths, dtype=np.int64, count=len(texts)))
            space = table
        data = _blank_wide_whitespace(data)
    # bytes below 28 other than separators and \t\n\v\f\r: control characters, not whitespace
    low = np.count_nonzero(data < 28) - separators
    simple = low == 0 or low == np.count_nonzero((data >= 9) & (data <= 13))
    return EncodedBatch(data, starts, space, simple)


@functools.cache
def _latin1_wide_spaces() -> tuple[str, ...]:
    """The whitespace characters of Latin-1 beyond ASCII."""
    return tuple(chr(code) for code in range(128, 256) if chr(code).isspace())


@functools.cache
def _latin1_space() -> np.ndarray:
    """Whitespace flags of the Latin-1 bytes (U+0085 and U+00A0 beyond ASCII)."""
    return np.array([chr(code).isspace() for code in range(256)], dtype=np.bool_)
