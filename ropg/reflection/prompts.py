"""The reflection prompt: the input, the generic answer g and the top-k profile items rendered
with the task's own fields, and the instruction to reason in one tagged block and answer in
another.

Items are numbered lines (``[1] description: ... | tag: comedy``), so :func:`count_items`
can read back how many a prompt holds. Each field keeps its first ``field_max_words`` words,
the input and g their first ``input_max_words``. The instruction comes first, so a model's
input cut (which removes the end of a long prompt) drops the least relevant items, never the
instruction. ``prompt_template`` replaces the default text; its placeholders are ``{input}``,
``{generic}``, ``{items}``, ``{reasoning_tag}``, ``{answer_tag}`` and ``{answer_hint}``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ropg.errors import UserError
from ropg.reflection.formats import answer_format

DEFAULT_TEMPLATE = (
    "Rewrite a generic answer so that it fits one user. First write, between "
    "<{reasoning_tag}> and </{reasoning_tag}>, which of the user's items show their preference "
    "and what to change in the generic answer; then write the final answer between "
    "<{answer_tag}> and </{answer_tag}>: {answer_hint}.\n"
    "Input: {input}\n"
    "Generic answer: {generic}\n"
    "The user's items, most relevant first:\n"
    "{items}"
)
NO_ITEMS = "(none)"
ITEM_FIELDS: dict[str, tuple[str, ...]] = {
    "LaMP-1": ("title",),
    "LaMP-2": ("description", "tag"),
    "LaMP-2-old": ("text", "category"),
    "LaMP-3": ("text", "score"),
    "LaMP-4": ("text", "title"),
    "LaMP-5": ("abstract", "title"),
    "LaMP-6": ("text", "title"),
    "LaMP-7": ("text",),
}
"""Fields shown per profile item, input side first, then what the user wrote for it; other
tasks show their ``profile_fields``."""
_ITEM_LINE = re.compile(r"^\[(\d+)\] ", re.MULTILINE)
_PLACEHOLDERS = ("input", "generic", "items", "reasoning_tag", "answer_tag", "answer_hint")


def cut_words(text: Any, limit: int) -> str:
    """The first ``limit`` whitespace-separated words of ``text`` (``...`` marks a cut)."""
    words = str(text).split()
    if len(words) <= limit:
        return " ".join(words)
    return " ".join(words[:limit]) + " ..."


@dataclass(frozen=True)
class ReflectionFormat:
    """The prompt and output format shared by every RPO stage (see :class:`FormatFields`).

    Attributes:
        reasoning_tag, answer_tag: the tag names of the two output blocks.
        item_fields: fields shown per item (empty: the task's own).
        field_max_words: words kept per item field.
        input_max_words: words kept of the input and of g.
        template: the prompt text (None: :data:`DEFAULT_TEMPLATE`).
    """

    reasoning_tag: str = "reasoning"
    answer_tag: str = "answer"
    item_fields: tuple[str, ...] = ()
    field_max_words: int = 48
    input_max_words: int = 256
    template: str | None = None

    @classmethod
    def from_settings(cls, settings: Any) -> ReflectionFormat:
        """From a config with the format fields (``ropg.reflection.config.FormatFields``)."""
        return cls(
            reasoning_tag=settings.reasoning_tag,
            answer_tag=settings.answer_tag,
            item_fields=tuple(settings.item_fields),
            field_max_words=settings.field_max_words,
            input_max_words=settings.input_max_words,
            template=settings.prompt_template,
        )

    def block(self, tag: str, content: str) -> str:
        return f"<{tag}>\n{content}\n</{tag}>"

    def completion(self, reasoning: str, answer: str) -> str:
        """The model's target output: the reasoning block, then the answer block."""
        return (
            f"{self.block(self.reasoning_tag, reasoning.strip())}\n"
            f"{self.block(self.answer_tag, answer.strip())}"
        )

    def fields_for(self, task: Any) -> tuple[str, ...]:
        if self.item_fields:
            return self.item_fields
        return ITEM_FIELDS.get(task.name, tuple(getattr(task, "profile_fields", ())))

    def render_item(self, task: Any, item: Mapping[str, Any], position: int) -> str:
        """One numbered item line: ``[n] field: value | field: value``."""
        parts = [
            f"{name}: {cut_words(item[name], self.field_max_words)}"
            for name in self.fields_for(task)
            if name in item
        ]
        return f"[{position}] " + " | ".join(parts)

    def render_items(self, task: Any, items: Sequence[Mapping[str, Any]]) -> str:
        if not items:
            return NO_ITEMS
        return "\n".join(self.render_item(task, item, n) for n, item in enumerate(items, 1))

    def prompt(
        self, task: Any, input_text: str, generic: str, items: Sequence[Mapping[str, Any]]
    ) -> str:
        """The reflection prompt for one input, its g and its ranked items."""
        values = {
            "input": cut_words(input_text, self.input_max_words),
            "generic": cut_words(generic, self.input_max_words) or "(empty)",
            "items": self.render_items(task, items),
            "reasoning_tag": self.reasoning_tag,
            "answer_tag": self.answer_tag,
            "answer_hint": answer_format(task).hint,
        }
        try:
            return (self.template or DEFAULT_TEMPLATE).format(**values)
        except (KeyError, IndexError, ValueError) as error:
            raise UserError(
                f"prompt_template: bad placeholder {error}; use {list(_PLACEHOLDERS)}"
            ) from None


def count_items(prompt: str) -> int:
    """How many numbered item lines a reflection prompt holds."""
    return len(_ITEM_LINE.findall(prompt))


def chat_messages(prompt: str, system_prompt: str | None) -> list[dict[str, str]]:
    """A prompt as chat messages (the training stages' conversational data)."""
    messages = [{"role": "user", "content": prompt}]
    if system_prompt:
        messages.insert(0, {"role": "system", "content": system_prompt})
    return messages
