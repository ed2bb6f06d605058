"""Profile documents kept as the fields they are joined from, joined only when read.

A LaMP document is ``" ".join`` of some fields of a profile item (``title + " " + text``, plus
``" date: {date}"`` when dates are used). Whitespace tokenizers do not need the joined string:
``" ".join(parts).split()`` is exactly ``[token for part in parts for token in part.split()]``,
because the joining space is whitespace and a token never spans it. :class:`JoinedDocuments`
holds the parts; BM25 tokenizes them in place, every other reader gets the strings.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, overload


class JoinedDocuments(Sequence[str]):
    """Documents ``" ".join(parts[i * width : (i + 1) * width])``, read-only.

    The strings are joined on first access (indexing, iteration, comparison) and kept; ``parts``
    and ``width`` are the raw material, for tokenizers that split on whitespace. Compares equal
    to any sequence of the same strings.
    """

    __slots__ = ("parts", "width", "_texts")

    def __init__(self, parts: Sequence[str], width: int) -> None:
        if width < 1 or len(parts) % width:
            raise ValueError(f"{len(parts)} parts do not make documents of {width} parts")
        self.parts = parts
        self.width = width
        self._texts: list[str] | None = None

    def texts(self) -> list[str]:
        """The joined documents (computed once)."""
        if self._texts is None:
            if self.width == 1:
                self._texts = list(self.parts)
            else:
                self._texts = list(map(" ".join, zip(*[iter(self.parts)] * self.width)))
        return self._texts

    def __len__(self) -> int:
        return len(self.parts) // self.width

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: Any) -> Any:
        return self.texts()[index]

    def __iter__(self) -> Iterator[str]:
        return iter(self.texts())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, JoinedDocuments):
            return self.texts() == other.texts()
        if isinstance(other, Sequence) and not isinstance(other, (str, bytes)):
            return self.texts() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"JoinedDocuments({len(self)} documents of {self.width} parts)"


def document_parts(documents: Sequence[str]) -> tuple[Sequence[str], int]:
    """``(parts, width)``: what each document is joined from, ``width`` parts each (for plain
    strings, the documents themselves and 1)."""
    if isinstance(documents, JoinedDocuments):
        return documents.parts, documents.width
    return documents, 1
