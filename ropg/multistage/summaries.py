"""Summarize: weak labels of the context-dependent summarizer, and the context-independent
summarizer's prompt.

**Weak label** (:func:`summary_label`). The snippets of the ground-truth current document and
the snippets of the retrieved entries (the parts of them in the cut context) are embedded with
a dense encoder and compared by cosine similarity. Greedily, in the gold document's order, each
gold snippet takes the most similar retrieved snippet that no earlier gold snippet took (equal
similarities: the earlier retrieved snippet); when every retrieved snippet is taken the label
ends. The chosen snippets, in that order and joined by one space, are the label
(:func:`greedy_select` is the selection alone).

**Context-independent summaries** are whatever a generator (an instruct model through its chat
template, a seq2seq summarizer) answers to ``prompt`` with ``{past_passages}`` replaced by the
ranked entries: :func:`context_independent_prompt`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ropg.errors import UserError
from ropg.multistage.snippets import SNIPPET_CHARS, snippets

CONTEXT_INDEPENDENT_PROMPT = "summarize: {past_passages}"


def greedy_select(similarity: np.ndarray) -> list[int]:
    """Per row (gold snippet) in order, the best column (retrieved snippet) not yet taken."""
    similarity = np.asarray(similarity, dtype=np.float64)
    if similarity.ndim != 2:
        raise ValueError("similarity must be a (gold, retrieved) matrix")
    taken: set[int] = set()
    chosen: list[int] = []
    for row in similarity:
        if len(taken) == similarity.shape[1]:
            break
        for column in np.argsort(-row, kind="stable").tolist():
            if column not in taken:
                taken.add(column)
                chosen.append(column)
                break
    return chosen


def _normalized(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def summary_label(
    gold_document: str,
    entry_texts: Sequence[str],
    embed: Callable[[list[str]], np.ndarray],
    snippet_chars: int = SNIPPET_CHARS,
) -> str:
    """The weak summary label of one example (module docstring)."""
    gold = snippets(gold_document, snippet_chars)
    retrieved = [snippet for text in entry_texts for snippet in snippets(text, snippet_chars)]
    if not gold or not retrieved:
        return ""
    vectors = _normalized(embed([*gold, *retrieved]))
    chosen = greedy_select(vectors[: len(gold)] @ vectors[len(gold) :].T)
    return " ".join(retrieved[index] for index in chosen)


def context_independent_prompt(past_passages: str, template: str) -> str:
    """The summarizer prompt for the ranked entries."""
    if "{past_passages}" not in template:
        raise UserError(f"the summary prompt must contain {{past_passages}}, got {template!r}")
    return template.replace("{past_passages}", " ".join(past_passages.split()))


class LeadSummarizer:
    """A context-independent extractive summarizer as a generator: the first ``sentences``
    sentences of the prompt after ``prefix`` (lead-k, the classic summarization baseline).

    Offline and instant (the CPU quick start's summarizer); as a spec:
    ``ropg.multistage.summaries:LeadSummarizer:3``.
    """

    def __init__(
        self, sentences: int | str = 3, *, config: Any = None, prefix: str = "summarize:", **_: Any
    ) -> None:
        from ropg.generation import GenerationConfig

        self.sentences = int(sentences)
        if self.sentences < 1:
            raise UserError("LeadSummarizer needs sentences >= 1")
        self.prefix = prefix
        self.config = config or GenerationConfig()
        self.name = f"lead-{self.sentences}"

    @classmethod
    def from_spec(cls, target: str, **options: Any) -> LeadSummarizer:
        return cls(target or 3, **options)

    @property
    def identity(self) -> dict[str, Any]:
        return {"backend": "lead", "sentences": self.sentences, "prefix": self.prefix}

    def generate(self, prompts: Sequence[str], config: Any = None) -> list[str]:
        from ropg.multistage.snippets import split_sentences

        outputs = []
        for prompt in prompts:
            text = prompt[len(self.prefix) :] if prompt.startswith(self.prefix) else prompt
            outputs.append(" ".join(split_sentences(text)[: self.sentences]))
        return outputs
