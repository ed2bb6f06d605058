"""The passage-completion task (:class:`~ropg.core.protocols.TaskLike`).

The retrieval query is the immediate context, the retrieval documents are the profile items'
title and text, the prompt is the generator's input string (:mod:`ropg.multistage.prompts`)
with the ranked items as past passages (concatenated and cut at ``max_chars``), the per-example
score is ROUGE-1 F and the official metrics are BLEU and ROUGE-1/2/L
(:mod:`ropg.multistage.metrics`). The project's retriever pipeline and feedback collector can
take a :class:`~ropg.multistage.documents.PassageSplit` of this task like a LaMP split.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ropg.core.documents import dated_document
from ropg.errors import UserError
from ropg.multistage import metrics
from ropg.multistage.prompts import GENERATION_INSTRUCTION, GenerationFields, fit_to_budget
from ropg.multistage.ranking import MAX_CHARS, concatenate, document_text

TASK_NAME = "passage-completion"


@dataclass(frozen=True)
class PassageTask:
    """Passage completion: continue a document from its first characters in the user's voice.

    Attributes:
        name: ``passage-completion``.
        instruction: the generator's instruction (the paper's).
        max_chars: the ranked items' concatenation is cut here (2,500).
        separator: between concatenated items.
        use_stemmer: ROUGE with Porter stemming (off, as in LaMP).
    """

    name: str = TASK_NAME
    instruction: str = GENERATION_INSTRUCTION
    max_chars: int = MAX_CHARS
    separator: str = " "
    use_stemmer: bool = False

    @property
    def metric_keys(self) -> tuple[str, ...]:
        return metrics.METRIC_KEYS

    # -- retrieval ------------------------------------------------------------------------------
    def find_query(self, input_text: str) -> str | None:
        """The immediate context itself."""
        return input_text

    def query(self, input_text: str) -> str:
        return input_text

    def document(self, item: Mapping[str, Any], use_date: bool = False) -> str:
        return dated_document(document_text(item), item, use_date)

    def documents(self, profile: Sequence[Mapping[str, Any]], use_date: bool = False) -> list[str]:
        return [self.document(item, use_date) for item in profile]

    # -- prompting ------------------------------------------------------------------------------
    def prompt(
        self,
        input_text: str,
        items: Sequence[Mapping[str, Any]],
        tokenizer: Any,
        max_length: int = 512,
    ) -> str:
        """The generator input with ``items`` as past passages, fitted to ``max_length``
        tokens of ``tokenizer`` (when given) by shortening the past passages."""
        past, _ = concatenate(
            [document_text(item) for item in items], self.max_chars, self.separator
        )
        fields = GenerationFields(passage_start=input_text, past_passages=past)
        return fit_to_budget(fields, tokenizer, max_length, self.instruction)

    # -- metrics --------------------------------------------------------------------------------
    def example_score(self, gold: str, pred: Any) -> float:
        """ROUGE-1 F of one continuation."""
        return metrics.rouge1(gold, str(pred))

    def example_scores(self, golds: Sequence[str], preds: Sequence[Any]) -> list[float]:
        return [self.example_score(g, p) for g, p in zip(golds, preds)]

    def evaluate(
        self, golds: Sequence[str], preds: Sequence[Any], aggregate: str = "mean", seed: int = 0
    ) -> dict[str, float]:
        """Corpus BLEU (0-100) and mean ROUGE-1/2/L F (0-1)."""
        if aggregate != "mean":
            raise UserError(f"passage completion aggregates by the mean only, not {aggregate!r}")
        return metrics.evaluate(golds, [str(p) for p in preds], self.use_stemmer)

    def per_example(self, golds: Sequence[str], preds: Sequence[Any]) -> dict[str, np.ndarray]:
        """Sentence BLEU and ROUGE-1/2/L F of each example (for paired tests)."""
        return metrics.per_example(golds, [str(p) for p in preds], self.use_stemmer)
