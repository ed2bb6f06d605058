"""A whitespace "tokenizer" with the slice of the Hugging Face interface that prompts use.

LaMP prompts are budgeted in tokens of the LLM's tokenizer (:mod:`ropg.lamp.prompts`). A
generator without one (the retrieval-only reader) still needs a budget: :class:`WordTokenizer`
counts whitespace-separated words, truncates to the first ``max_length`` of them and decodes
by joining with single spaces. It adds no special tokens, keeps case and punctuation, and is
deterministic, so the prompts built with it are stable across processes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class WordTokenizer:
    """Words as tokens: ``tokenizer(text, max_length=, truncation=)["input_ids"]`` and
    ``batch_decode(ids, skip_special_tokens=True)``.

    Token ids index an instance vocabulary that grows as words are seen; they are only
    meaningful to the instance that made them.
    """

    name_or_path = "ropg-words"

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._words: list[str] = []

    def _id(self, word: str) -> int:
        index = self._ids.get(word)
        if index is None:
            index = self._ids[word] = len(self._words)
            self._words.append(word)
        return index

    def __call__(
        self, text: str, max_length: int | None = None, truncation: bool = False, **_: Any
    ) -> dict[str, list[int]]:
        """``{"input_ids": [...]}``, cut to ``max_length`` words when ``truncation``."""
        words = text.split()
        if truncation and max_length is not None:
            if max_length < 0:
                raise ValueError(f"max_length must be >= 0, got {max_length}")
            words = words[:max_length]
        return {"input_ids": [self._id(word) for word in words]}

    def batch_decode(self, sequences: Sequence[Sequence[int]], **_: Any) -> list[str]:
        """The words of each id sequence joined by single spaces."""
        return [" ".join(self._words[index] for index in ids) for ids in sequences]

    def __repr__(self) -> str:
        return "WordTokenizer()"
