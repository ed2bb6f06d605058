"""The LLMs of RPO (base model, reflection model, teacher), built in one place.

:func:`make_llm` is the only function of the package that constructs a generator: a backend
from its spec (``hf:``, ``vllm:``, ``openai-chat:``, a ``module:Class`` plug-in) behind the
persistent output cache, so every generation of every stage is made once. It mirrors
:class:`ropg.generation.endpoint.LLMEndpoint` (spec, options, decoding, one prompt budget,
prompt tokenizer, cache) and can be replaced by it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ropg.errors import UserError

logger = logging.getLogger(__name__)


@dataclass
class LLMSettings:
    """One LLM as data.

    Attributes:
        spec: generator spec.
        options: backend options (``chat``, ``system_prompt``, ``dtype``, ``device``, ...).
        generation: :class:`~ropg.generation.GenerationConfig` fields.
        max_length: prompt budget in tokens; also the input cut unless ``generation`` sets
            ``max_input_length``.
        prompt_tokenizer: tokenizer id or directory for prompt budgets (default: the
            backend's own; a word count for backends without one).
        cache: the SQLite output cache file (None: ``$ROPG_CACHE_DIR`` or ``~/.cache/ropg``).
        label: a human label (``ropg cache stats``).
    """

    spec: str
    options: Mapping[str, Any] = field(default_factory=dict)
    generation: Mapping[str, Any] = field(default_factory=dict)
    max_length: int = 512
    prompt_tokenizer: str | None = None
    cache: str | os.PathLike[str] | None = None
    label: str | None = None


class RpoLLM:
    """A cached generator with its prompt tokenizer (what the RPO stages call)."""

    def __init__(self, settings: LLMSettings, generator: Any, tokenizer: Any = None) -> None:
        self.settings = settings
        self.generator = generator
        self._tokenizer: Any = tokenizer

    @property
    def identity(self) -> dict[str, Any]:
        """The backend's identity (model, decoding, chat template)."""
        return dict(self.generator.identity)

    @property
    def max_length(self) -> int:
        return self.settings.max_length

    @property
    def backend_tokenizer(self) -> Any:
        """The backend's own tokenizer, if it has one."""
        inner = getattr(self.generator, "generator", self.generator)
        return getattr(inner, "tokenizer", None)

    @property
    def prompt_tokenizer(self) -> Any:
        """The tokenizer prompt budgets are counted with."""
        if self._tokenizer is None:
            if self.settings.prompt_tokenizer:
                from transformers import AutoTokenizer

                self._tokenizer = AutoTokenizer.from_pretrained(self.settings.prompt_tokenizer)
            else:
                self._tokenizer = self.backend_tokenizer
            if self._tokenizer is None:
                from ropg.generation.words import WordTokenizer

                logger.info("%s has no tokenizer: prompt budgets count words", self.settings.spec)
                self._tokenizer = WordTokenizer()
        return self._tokenizer

    def generate(self, prompts: Sequence[str]) -> list[str]:
        """One output per prompt, through the cache."""
        return list(self.generator.generate(list(prompts)))

    @property
    def misses(self) -> int:
        """Generations this object made (cache misses)."""
        return int(getattr(self.generator, "misses", 0))

    def __repr__(self) -> str:
        return f"RpoLLM({self.settings.spec!r})"


def make_llm(settings: LLMSettings) -> RpoLLM:
    """Build an LLM from its settings: an :class:`~ropg.generation.endpoint.LLMEndpoint` (the
    backend behind the output cache, one prompt budget)."""
    from ropg.generation.endpoint import EndpointConfig, LLMEndpoint
    from ropg.generation.errors import GenerationError

    if not settings.spec:
        raise UserError("an LLM spec is required (hf:MODEL, vllm:MODEL, openai-chat:URL#MODEL)")
    endpoint = LLMEndpoint(
        EndpointConfig(
            spec=settings.spec,
            options=dict(settings.options),
            generation=dict(settings.generation),
            max_length=settings.max_length,
            cache=settings.cache,
            label=settings.label,
        )
    )
    try:
        generator = endpoint.generator
    except GenerationError as error:
        raise UserError(str(error)) from None
    return RpoLLM(settings, generator)
