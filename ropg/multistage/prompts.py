"""The input strings of every model of the pipeline: one string with the paper's prefixed fields.

The generator reads ``"{instruction} passage start: {x} summary: {s} important words: {w}
past passages: {entries}"``; a field whose value is empty is left out (ImmedCtx has only the
passage start). The past passages come last, so a right-hand cut of a long input (the model's
input limit) shortens them first. The author-distinction input is ``"{instruction} passage 1:
{a} passage 2: {b}"`` with the target ``true`` or ``false``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

GENERATION_INSTRUCTION = "Finish the passage in the user voice."
AUTHOR_INSTRUCTION = "Predict whether two passages are from the same author."
SUMMARY_INSTRUCTION = "Summarize the past passages for the passage start."
KEYWORDS_INSTRUCTION = "List the important words of the past passages for the passage start."

PASSAGE_START = "passage start"
SUMMARY = "summary"
IMPORTANT_WORDS = "important words"
PAST_PASSAGES = "past passages"
FIELD_ORDER = (PASSAGE_START, SUMMARY, IMPORTANT_WORDS, PAST_PASSAGES)
KEYWORD_SEPARATOR = ", "


def one_line(text: str) -> str:
    """``text`` with every run of whitespace made one space, stripped."""
    return " ".join(str(text).split())


def field_string(instruction: str, fields: Mapping[str, str], order: Sequence[str]) -> str:
    """``"{instruction} name: value ..."`` for the non-empty fields, in ``order``."""
    parts = [instruction] if instruction else []
    for name in order:
        value = one_line(fields.get(name, ""))
        if value:
            parts.append(f"{name}: {value}")
    unknown = set(fields) - set(order)
    if unknown:
        raise ValueError(f"unknown input fields {sorted(unknown)}; known: {list(order)}")
    return " ".join(parts)


@dataclass(frozen=True)
class GenerationFields:
    """What the generator reads for one example (empty strings are left out)."""

    passage_start: str
    summary: str = ""
    important_words: str = ""
    past_passages: str = ""

    def as_dict(self) -> dict[str, str]:
        return {
            PASSAGE_START: self.passage_start,
            SUMMARY: self.summary,
            IMPORTANT_WORDS: self.important_words,
            PAST_PASSAGES: self.past_passages,
        }


def generation_input(fields: GenerationFields, instruction: str = GENERATION_INSTRUCTION) -> str:
    """The generator's input string (module docstring)."""
    return field_string(instruction, fields.as_dict(), FIELD_ORDER)


def stage_input(instruction: str, passage_start: str, past_passages: str) -> str:
    """The input of the context-dependent summarizer and keyword model."""
    values = {PASSAGE_START: passage_start, PAST_PASSAGES: past_passages}
    return field_string(instruction, values, (PASSAGE_START, PAST_PASSAGES))


def author_input(first: str, second: str, instruction: str = AUTHOR_INSTRUCTION) -> str:
    """The author-distinction input for two passages."""
    values = {"passage 1": first, "passage 2": second}
    return field_string(instruction, values, ("passage 1", "passage 2"))


def fit_to_budget(
    fields: GenerationFields, tokenizer: Any, max_length: int, instruction: str
) -> str:
    """The generation input with its past passages shortened (by characters, binary search)
    until the whole input is at most ``max_length`` tokens of ``tokenizer``."""

    def render(chars: int) -> str:
        shortened = GenerationFields(
            fields.passage_start,
            fields.summary,
            fields.important_words,
            fields.past_passages[:chars],
        )
        return generation_input(shortened, instruction)

    def fits(text: str) -> bool:
        return len(tokenizer(text, add_special_tokens=True)["input_ids"]) <= max_length

    full = render(len(fields.past_passages))
    if tokenizer is None or fits(full):
        return full
    low, high = 0, len(fields.past_passages)
    while low < high:  # the longest prefix of the past passages that fits
        middle = (low + high + 1) // 2
        if fits(render(middle)):
            low = middle
        else:
            high = middle - 1
    return render(low)
