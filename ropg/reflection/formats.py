"""A task's answer format: what a final answer must look like, and its canonical form.

Three formats, chosen from the task's official metric keys (a registry, so new metric
families add their own):

- ``label`` (accuracy/F1: LaMP-1, LaMP-2): one of the task's labels; case, surrounding quotes,
  a trailing period and LaMP-1's brackets are forgiven (``"Comedy."`` -> ``comedy``,
  ``1`` -> ``[1]``).
- ``rating`` (MAE/RMSE: LaMP-3): the first number in the answer, within 1..5 (``"4 stars"`` ->
  ``4``).
- ``text`` (ROUGE: LaMP-4..7): the answer itself, whitespace-trimmed, one pair of surrounding
  quotes removed.

:meth:`AnswerFormat.normalize` returns ``None`` for an answer outside the format.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")
_QUOTES = ('"', "'", "\u201c\u201d", "\u2018\u2019")


def _unquote(text: str) -> str:
    text = text.strip()
    for quote in _QUOTES:
        opening, closing = (quote, quote) if len(quote) == 1 else (quote[0], quote[1])
        if len(text) >= 2 and text.startswith(opening) and text.endswith(closing):
            return text[1:-1].strip()
    return text


@dataclass(frozen=True)
class AnswerFormat:
    """How final answers of one task are checked and written.

    Attributes:
        kind: ``label``, ``rating`` or ``text``.
        labels: the allowed labels (``label`` kind).
        hint: the answer-format sentence of the reflection prompt.
    """

    kind: str
    labels: tuple[str, ...] = ()
    hint: str = ""

    def normalize(self, answer: Any) -> str | None:
        """The canonical answer, or None when ``answer`` is not in the format."""
        text = _unquote(str(answer))
        if not text:
            return None
        if self.kind == "label":
            return self._label(text)
        if self.kind == "rating":
            match = _NUMBER.search(text)
            if match is None:
                return None
            value = float(match.group())
            if not 1 <= value <= 5:
                return None
            return str(int(value)) if value.is_integer() else str(value)
        return text

    def _label(self, text: str) -> str | None:
        candidates = [text, text.rstrip(".").strip()]
        candidates += [f"[{c}]" for c in candidates if not c.startswith("[")]
        lowered = {label.lower(): label for label in self.labels}
        for candidate in candidates:
            if candidate in self.labels:
                return candidate
            if candidate.lower() in lowered:
                return lowered[candidate.lower()]
        return None


def _label_format(task: Any) -> AnswerFormat:
    labels = tuple(getattr(task, "labels", ()))
    return AnswerFormat("label", labels, "exactly one of: " + ", ".join(labels))


def _rating_format(task: Any) -> AnswerFormat:
    return AnswerFormat("rating", hint="one score from 1 to 5, the number only")


def _text_format(task: Any) -> AnswerFormat:
    return AnswerFormat("text", hint="the rewritten text only, in the user's own style")


FORMATS: dict[str, Callable[[Any], AnswerFormat]] = {
    "accuracy": _label_format,
    "MAE": _rating_format,
    "rouge-1": _text_format,
}
"""Answer formats by a task's first metric key (add your own for a new metric family)."""


def answer_format(task: Any) -> AnswerFormat:
    """The answer format of ``task`` (by its first metric key; unknown keys: ``text``)."""
    keys = tuple(getattr(task, "metric_keys", ()))
    factory = FORMATS.get(keys[0] if keys else "", _text_format)
    return factory(task)
