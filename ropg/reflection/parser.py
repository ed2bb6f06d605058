"""Reading a reflection back: the reasoning block, the final answer in the task's format, and
the fallback to the generic answer g when the reflection cannot be used.

A reflection falls back to g for exactly one reason, the first that applies:

==================  ==================================================================
``empty``           nothing was generated (or only whitespace)
``no_answer_tag``   no opening answer tag (a tag-less reflection)
``multiple_answers``  more than one answer block
``unclosed_answer``   the answer block is never closed (typically cut by max_new_tokens)
``empty_answer``    the answer block holds nothing
``too_long``        the final answer has more than ``max_answer_words`` words
``invalid_answer``  the answer is not in the task's format (not a label, not a 1-5 rating)
``no_reasoning``    no reasoning block, when ``require_reasoning`` is set
==================  ==================================================================

:class:`FallbackCounts` counts them for the report.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ropg.reflection.formats import AnswerFormat

FALLBACK_REASONS = (
    "empty",
    "no_answer_tag",
    "multiple_answers",
    "unclosed_answer",
    "empty_answer",
    "too_long",
    "invalid_answer",
    "no_reasoning",
)


@dataclass(frozen=True)
class ParseSettings:
    """How strictly reflections are read.

    Attributes:
        reasoning_tag, answer_tag: the tag names.
        max_answer_words: a longer final answer falls back to g.
        require_reasoning: a reflection without a reasoning block falls back to g.
    """

    reasoning_tag: str = "reasoning"
    answer_tag: str = "answer"
    max_answer_words: int = 128
    require_reasoning: bool = False

    @classmethod
    def from_settings(cls, settings: Any) -> ParseSettings:
        """From a config with the format fields (``ropg.reflection.config.FormatFields``)."""
        return cls(
            reasoning_tag=settings.reasoning_tag,
            answer_tag=settings.answer_tag,
            max_answer_words=settings.max_answer_words,
            require_reasoning=settings.require_reasoning,
        )


@dataclass(frozen=True)
class ParsedReflection:
    """A reflection read back.

    Attributes:
        answer: the final answer (g when the reflection fell back).
        reasoning: the reasoning block's text ("" when there is none).
        fallback: why g was used instead (None: the reflection's own answer).
    """

    answer: str
    reasoning: str
    fallback: str | None

    @property
    def well_formed(self) -> bool:
        return self.fallback is None


def _tag(name: str, closing: bool = False) -> re.Pattern[str]:
    return re.compile(rf"<\s*{'/' if closing else ''}\s*{re.escape(name)}\s*>", re.IGNORECASE)


def tagged_block(text: str, tag: str) -> tuple[str | None, str]:
    """``(problem, content)`` of the ``<tag>...</tag>`` block of ``text``.

    ``problem`` is None for one closed block, else ``missing``, ``multiple`` or ``unclosed``.
    """
    openings = list(_tag(tag).finditer(text))
    if not openings:
        return "missing", ""
    if len(openings) > 1:
        return "multiple", ""
    start = openings[0].end()
    closing = _tag(tag, closing=True).search(text, start)
    if closing is None:
        return "unclosed", text[start:].strip()
    return None, text[start : closing.start()].strip()


def parse_reflection(
    text: str, generic: str, answer_format: AnswerFormat, settings: ParseSettings
) -> ParsedReflection:
    """Read one reflection: its reasoning and its final answer, or g and the reason why."""
    problem, reasoning = tagged_block(text, settings.reasoning_tag)
    reasoning = reasoning if problem is None else ""

    def fallback(reason: str) -> ParsedReflection:
        return ParsedReflection(answer=generic, reasoning=reasoning, fallback=reason)

    if not text.strip():
        return fallback("empty")
    problem, answer = tagged_block(text, settings.answer_tag)
    reasons = {"missing": "no_answer_tag", "multiple": "multiple_answers"}
    if problem in reasons:
        return fallback(reasons[problem])
    if problem == "unclosed":
        return fallback("unclosed_answer")
    if not answer:
        return fallback("empty_answer")
    if len(answer.split()) > settings.max_answer_words:
        return fallback("too_long")
    normalized = answer_format.normalize(answer)
    if normalized is None:
        return fallback("invalid_answer")
    if settings.require_reasoning and not reasoning:
        return fallback("no_reasoning")
    return ParsedReflection(answer=normalized, reasoning=reasoning, fallback=None)


class FallbackCounts:
    """How many reflections were used, and how many fell back to g for each reason."""

    def __init__(self, reasons: Iterable[str | None] = ()) -> None:
        self.counts: Counter[str] = Counter()
        self.total = 0
        self.update(reasons)

    def update(self, reasons: Iterable[str | None]) -> None:
        for reason in reasons:
            self.total += 1
            if reason is not None:
                self.counts[reason] += 1

    @property
    def fallbacks(self) -> int:
        return sum(self.counts.values())

    def to_dict(self) -> dict[str, Any]:
        """``{"reflections", "used", "fallbacks", "by_reason": {reason: n}}`` (JSON-able)."""
        by_reason = {
            reason: self.counts[reason] for reason in FALLBACK_REASONS if self.counts[reason]
        }
        by_reason.update({k: v for k, v in self.counts.items() if k not in by_reason})
        return {
            "reflections": self.total,
            "used": self.total - self.fallbacks,
            "fallbacks": self.fallbacks,
            "by_reason": by_reason,
        }

    def format(self) -> str:
        """One line for a command's output."""
        data = self.to_dict()
        detail = ", ".join(f"{k} {v}" for k, v in data["by_reason"].items()) or "none"
        return f"{data['used']}/{data['reflections']} reflections used; fell back to g: {detail}"
