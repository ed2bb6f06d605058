"""Choosing a retriever per input with a trained selector, and producing the answer.

``load_selector(path).select(records)`` gives one retriever name per pool record. Answers:

- **Post** returns the chosen retriever's already generated output (every pool prompt has been
  answered before the choice);
- **Pre** chooses from the prompts alone, then generates only the chosen prompt, through the
  generation cache (:class:`~ropg.generation.cache.CachedGenerator`).

:meth:`Selector.answer` does either from per-retriever prompts (``{name: prompt}`` per input,
e.g. from :func:`pool_prompts` for LaMP examples); :meth:`Selector.outputs` from records.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ropg.errors import UserError
from ropg.selection.model import (
    SelectorCollator,
    SelectorModel,
    SelectorSettings,
    load_selector_model,
    score_records,
)
from ropg.selection.records import PoolRecord, RetrieverResult


@dataclass
class Selector:
    """A trained RSPG selector ready to choose (see the module docstring)."""

    model: SelectorModel
    tokenizer: Any
    device: Any = "cpu"
    batch_size: int = 8
    max_tokens: int | None = 16384

    def __post_init__(self) -> None:
        self.model.to(self.device)
        self.collator = SelectorCollator(self.tokenizer, self.settings)

    @property
    def settings(self) -> SelectorSettings:
        return self.model.settings

    @property
    def pool(self) -> list[str]:
        """The retriever names the selector chooses among, in its score order."""
        return list(self.settings.pool)

    @property
    def mode(self) -> str:
        return self.settings.mode

    def _check_pool(self, records: Sequence[PoolRecord]) -> None:
        for record in records:
            missing = [name for name in self.pool if name not in record.retrievers]
            if missing:
                raise UserError(
                    f"record {record.id!r} lacks retriever {missing[0]!r} of the selector's "
                    f"pool {self.pool}"
                )

    def scores(self, records: Sequence[PoolRecord]) -> np.ndarray:
        """``(N, P)`` selection scores, columns in :attr:`pool` order."""
        self._check_pool(records)
        return score_records(
            self.model,
            records,
            self.collator,
            batch_size=self.batch_size,
            max_tokens=self.max_tokens,
            device=self.device,
        )

    def select(self, records: Sequence[PoolRecord]) -> list[str]:
        """One retriever name per record: the highest score (the first in pool order on ties)."""
        if not records:
            return []
        return [self.pool[int(i)] for i in np.argmax(self.scores(records), axis=1)]

    def choose(
        self,
        prompts: Sequence[Mapping[str, str]],
        outputs: Sequence[Mapping[str, str]] | None = None,
    ) -> list[str]:
        """Choose from per-retriever prompts (and, for Post, outputs) of unlabelled inputs."""
        if self.mode == "post" and outputs is None:
            raise UserError("a Post selector needs the LLM outputs of every pool prompt")
        records = []
        for index, by_name in enumerate(prompts):
            answers = outputs[index] if outputs is not None else {}
            results = {
                name: RetrieverResult(by_name[name], answers.get(name, ""), 0.0)
                for name in self.pool
                if name in by_name
            }
            records.append(PoolRecord(str(index), "", self.settings.task, results))
        return self.select(records)

    def outputs(
        self,
        records: Sequence[PoolRecord],
        generator: Any = None,
        generation_config: Any = None,
        cache: str | os.PathLike[str] | None = None,
    ) -> list[str]:
        """The answer per record: Post (or Pre without a generator) the stored output of the
        chosen retriever; Pre with a generator, the chosen prompt generated (cached)."""
        names = self.select(records)
        if self.mode == "post" or generator is None:
            return [record.retrievers[name].output for record, name in zip(records, names)]
        prompts = [record.retrievers[name].prompt for record, name in zip(records, names)]
        return cached(generator, cache).generate(prompts, generation_config)

    def answer(
        self,
        prompts: Sequence[Mapping[str, str]],
        generator: Any,
        generation_config: Any = None,
        cache: str | os.PathLike[str] | None = None,
    ) -> tuple[list[str], list[str]]:
        """``(chosen names, outputs)`` for per-retriever prompts, generating through the cache.

        Pre generates only the chosen prompts; Post generates every pool prompt, then chooses.
        """
        generator = cached(generator, cache)
        if self.mode == "pre":
            names = self.choose(prompts)
            chosen = [by_name[name] for by_name, name in zip(prompts, names)]
            return names, generator.generate(chosen, generation_config)
        flat = [by_name[name] for by_name in prompts for name in self.pool]
        generated = generator.generate(flat, generation_config)
        width = len(self.pool)
        outputs = [
            dict(zip(self.pool, generated[i * width : (i + 1) * width]))
            for i in range(len(prompts))
        ]
        names = self.choose(prompts, outputs)
        return names, [by_name[name] for by_name, name in zip(outputs, names)]


def cached(generator: Any, cache: str | os.PathLike[str] | None = None) -> Any:
    """``generator`` behind the persistent generation cache (as is when it already is)."""
    from ropg.generation import CachedGenerator

    if isinstance(generator, CachedGenerator):
        return generator
    return CachedGenerator(generator, cache)


def load_selector(
    path: str | os.PathLike[str],
    device: Any = "cpu",
    batch_size: int = 8,
    trust_remote_code: bool = False,
) -> Selector:
    """A selector saved by ``rspg-train`` / :func:`~ropg.selection.trainer.train_selector`."""
    model, tokenizer = load_selector_model(path, trust_remote_code)
    return Selector(model, tokenizer, device=device, batch_size=batch_size)


def pool_prompts(
    examples: Sequence[Any], retrievers: Mapping[str, Any], build_prompt: Any, k: int = 4
) -> list[dict[str, str]]:
    """``{retriever name: k-item prompt}`` per LaMP example, built as ``ropg-feedback pool``
    builds them (:class:`~ropg.feedback.planners.PoolPlanner`; ``build_prompt`` is a
    :class:`~ropg.feedback.planners.PromptBuilder`)."""
    from ropg.feedback.planners import PoolPlanner

    plans = PoolPlanner(retrievers, build_prompt, k).plan(examples)
    # a plan holds one request per retriever, in the pool's order
    return [
        {name: request.prompt for name, request in zip(retrievers, plan, strict=True)}
        for plan in plans
    ]
