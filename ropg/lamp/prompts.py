"""Personalized prompt construction, character-exact with the LaMP reference.

See docs/lamp-fidelity.md (Prompts).

Every tokenizer call below mirrors the reference's calls one for one (same text, same
``max_length``/``truncation`` arguments, same ``batch_decode(skip_special_tokens=True)``
round-trip), so that for a given tokenizer the prompt strings are identical.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

ITEM_SEPARATOR = ", and "


class TaskPrompt(str):
    """A prompt string that also carries what it was built from.

    It is a ``str`` (every generator takes it as text, the cache keys it by its text), and
    ``task``, ``input`` and ``items`` let a consumer that understands tasks — the
    retrieval-only reader — read the retrieved items directly instead of parsing the text.
    ``items`` are the profile items as they appear in the prompt (their truncated field cut
    to the budget, as rendered); empty when the prompt is the bare input.
    """

    task: str
    input: str
    items: tuple[Mapping[str, Any], ...]

    def __new__(
        cls, text: str, task: str, input_text: str, items: Sequence[Mapping[str, Any]] = ()
    ) -> TaskPrompt:
        prompt = super().__new__(cls, text)
        prompt.task, prompt.input, prompt.items = task, input_text, tuple(items)
        return prompt

    def __reduce__(self) -> tuple[Any, ...]:
        return (TaskPrompt, (str(self), self.task, self.input, self.items))


INITIAL_INPUT_FACTOR = 0.6
FACTOR_STEP = 0.1


def _token_count(tokenizer: Any, text: str) -> int:
    return len(tokenizer(text)["input_ids"])


def _truncate_roundtrip(tokenizer: Any, text: str, max_tokens: int) -> tuple[str, int]:
    """Tokenize ``text`` truncated to ``max_tokens`` and decode it back (special tokens skipped).

    Returns the decoded text and the number of token ids (special tokens included).
    """
    ids = tokenizer(text, max_length=max_tokens, truncation=True)["input_ids"]
    return tokenizer.batch_decode([ids], skip_special_tokens=True)[0], len(ids)


@dataclass(frozen=True)
class PromptTemplate:
    """How one LaMP task renders its retrieved profile items into the LLM input.

    Attributes:
        item: format string of one profile item (fields by name).
        truncated_field: the item field shortened to fit the token budget.
        length_item: format string whose token length is the per-item overhead
            (the reference's ``needed_part_len``); ``None`` means a fixed overhead.
        fixed_overhead: per-item overhead when ``length_item`` is None (LaMP-1: 2).
        assembly: format string combining ``{joined}`` items and the ``{input}``.
        reserved_text: text whose token length is reserved once from the budget.
        reserve_eos_slot: subtract 1 from the budget before splitting it (all but LaMP-1).
        insert_after: if set, the joined items are inserted after the first occurrence of
            this word in the input (LaMP-1) instead of using ``assembly``.
    """

    item: str
    truncated_field: str
    length_item: str | None
    assembly: str = "{joined}. {input}"
    fixed_overhead: int = 0
    reserved_text: str | None = None
    reserve_eos_slot: bool = True
    insert_after: str | None = None

    def required_fields(self) -> set[str]:
        import string

        return {name for _, name, _, _ in string.Formatter().parse(self.item) if name}

    def _per_item_budget(self, budget: int, count: int, tokenizer: Any) -> int:
        available = budget - (1 if self.reserve_eos_slot else 0) - 2 * (count - 1)
        if self.reserved_text is not None:
            available -= _token_count(tokenizer, self.reserved_text)
        return available // count

    def _render_items(
        self, items: Sequence[Mapping[str, Any]], budget: int, tokenizer: Any
    ) -> list[dict[str, Any]]:
        """The items with their truncated field cut to the budget, as the prompt shows them."""
        per_item = self._per_item_budget(budget, len(items), tokenizer)
        carry = 0
        rendered = []
        for item in items:
            if self.length_item is None:
                overhead = self.fixed_overhead
            else:
                overhead = _token_count(tokenizer, self.length_item.format(**item))
            text, used = _truncate_roundtrip(
                tokenizer, item[self.truncated_field], per_item + carry - overhead
            )
            carry += per_item - used - overhead
            rendered.append({**item, self.truncated_field: text})
        return rendered

    def assemble(
        self, input_text: str, items: Sequence[Mapping[str, Any]], budget: int, tokenizer: Any
    ) -> tuple[str, list[dict[str, Any]]]:
        """Render ``items`` within ``budget`` tokens and combine them with the input; also
        the items as rendered (none when the input has no place for them)."""
        shown = self._render_items(items, budget, tokenizer)
        joined = ITEM_SEPARATOR.join(self.item.format(**item) for item in shown)
        if self.insert_after is not None:
            index = input_text.find(self.insert_after)
            if index == -1:
                return input_text, []
            cut = index + len(self.insert_after)
            return input_text[:cut] + ITEM_SEPARATOR + joined + input_text[cut:], shown
        return self.assembly.format(joined=joined, input=input_text), shown

    def build(
        self,
        input_text: str,
        items: Sequence[Mapping[str, Any]],
        tokenizer: Any,
        max_length: int,
    ) -> tuple[str, list[dict[str, Any]]]:
        """Build the prompt as the reference does, retrying with a smaller input share;
        returns the prompt and the items as it shows them.

        The input keeps up to ``factor * max_length`` tokens of the budget (factor 0.6, then
        0.5, ... as in the reference, including its float arithmetic); if rendering fails
        (e.g. a negative truncation length), the factor is lowered; below 0 the bare input is
        returned. An empty ``items`` list gives the bare input.
        """
        if not items:
            return input_text, []
        required = self.required_fields()
        for position, item in enumerate(items):
            missing = required - item.keys()
            if missing:
                raise KeyError(
                    f"profile item {position} (id {item.get('id')!r}) lacks field(s) "
                    f"{sorted(missing)} needed by the prompt"
                )
        input_tokens = _token_count(tokenizer, input_text)
        factor = INITIAL_INPUT_FACTOR
        while True:
            try:
                budget = max_length - min(input_tokens, int(factor * max_length))
                return self.assemble(input_text, items, budget, tokenizer)
            except KeyError:
                raise
            except Exception as error:  # the reference retries on any failure; so do we
                factor -= FACTOR_STEP
                if factor < 0:
                    logger.debug("no item fits the budget (%s); using the bare input", error)
                    return input_text, []
