"""One LLM endpoint: spec, backend options, decoding, prompt budget, prompt tokenizer, cache.

Every command and the benchmark build their LLM here, so the pieces cannot drift apart::

    from ropg.generation.endpoint import EndpointConfig, LLMEndpoint

    llm = LLMEndpoint(EndpointConfig("hf:google/flan-t5-base", max_length=512,
                                     generation={"num_beams": 4, "max_new_tokens": 32}))
    llm.generate(["Translate to German: thank you"])       # cached; the model loads lazily
    llm.prompt_tokenizer                                     # what task prompts are budgeted with

- **One prompt budget.** ``max_length`` is the budget task prompts are built with and also the
  generator's input cut (``max_input_length``) unless ``generation`` sets that explicitly.
- **Runtime options by declaration.** A backend lists the options that change how it runs,
  never what it outputs (:attr:`~ropg.generation.base.BaseGenerator.runtime_options`:
  ``device``, ``show_progress``); the endpoint sets only those, so no caller tests backend names.
- **One decoding config.** It is given to the generator once; calls never pass it again.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ropg.generation.base import GenerationConfig
from ropg.generation.errors import GenerationError

logger = logging.getLogger(__name__)


@dataclass
class EndpointConfig:
    """An LLM endpoint as data (a benchmark ``llms:`` entry, the LLM flags of a command).

    Attributes:
        spec: generator spec (``hf:MODEL``, ``vllm:MODEL``, ``ct2:MODEL``,
            ``openai-chat:URL#MODEL``, ``reader:profile``, ``module:Class[:target]``).
        options: backend options (``dtype``, ``device_map``, ``chat``, ``system_prompt``, ...).
        generation: :class:`~ropg.generation.base.GenerationConfig` fields.
        max_length: the prompt budget in tokens of the prompt tokenizer; also the input cut
            unless ``generation`` sets ``max_input_length``.
        prompt_tokenizer: a tokenizer id or directory for prompt budgets (default: the
            generator's own; backends without one, such as ``openai``, need it).
        cache: the SQLite output cache file (None: ``$ROPG_CACHE_DIR`` or ``~/.cache/ropg``).
        label: a human label for ``ropg cache stats``.
        show_progress: per-call progress bars of backends that have them.
        device: where local backends run (``cuda:1``, ``cpu``); None: their own default.
    """

    spec: str
    options: dict[str, Any] = field(default_factory=dict)
    generation: dict[str, Any] = field(default_factory=dict)
    max_length: int = 512
    prompt_tokenizer: str | None = None
    cache: str | os.PathLike[str] | None = None
    label: str | None = None
    show_progress: bool = False
    device: str | None = None

    def generation_config(self) -> GenerationConfig:
        """The decoding config, its input cut defaulting to the prompt budget."""
        values = dict(self.generation)
        values.setdefault("max_input_length", self.max_length)
        try:
            return GenerationConfig.from_dict(values)
        except (TypeError, ValueError) as error:
            raise GenerationError(f"{self.spec}: generation: {error}") from None


class LLMEndpoint:
    """A cached generator, its decoding config, its prompt budget and its prompt tokenizer.

    Args:
        config: the endpoint settings.
        load_tokenizer: loads a ``prompt_tokenizer`` by name (default:
            ``transformers.AutoTokenizer.from_pretrained``).
    """

    def __init__(
        self,
        config: EndpointConfig,
        *,
        load_tokenizer: Callable[[str], Any] | None = None,
    ) -> None:
        if config.max_length < 1:
            raise GenerationError(f"{config.spec}: max_length must be >= 1")
        self.config = config
        self.generation_config = config.generation_config()
        self._load_tokenizer = load_tokenizer or _auto_tokenizer
        self._generator: Any = None
        self._tokenizer: Any = None

    @property
    def spec(self) -> str:
        return self.config.spec

    @property
    def max_length(self) -> int:
        """The prompt budget."""
        return self.config.max_length

    @property
    def generator(self) -> Any:
        """The backend behind its output cache (built once, on first use)."""
        if self._generator is None:
            from ropg.generation.cache import CachedGenerator
            from ropg.generation.registry import get_generator, runtime_options

            options = dict(self.config.options)
            accepted = runtime_options(self.config.spec)
            if "show_progress" in accepted:
                options.setdefault("show_progress", self.config.show_progress)
            if self.config.device is not None and "device" in accepted:
                options.setdefault("device", self.config.device)
            try:
                backend = get_generator(self.config.spec, config=self.generation_config, **options)
            except TypeError as error:
                given = ", ".join(sorted(options)) or "none"
                raise GenerationError(
                    f"{self.config.spec} rejected its options ({given}): {error}"
                ) from None
            self._generator = CachedGenerator(backend, self.config.cache, label=self.config.label)
        return self._generator

    @property
    def identity(self) -> dict[str, Any]:
        """The generator's identity (backend, exact model, decoding)."""
        return self.generator.identity

    @property
    def prompt_tokenizer(self) -> Any:
        """The tokenizer prompts are budgeted with: ``prompt_tokenizer`` or the backend's own."""
        if self._tokenizer is None:
            if self.config.prompt_tokenizer:
                self._tokenizer = self._load_tokenizer(self.config.prompt_tokenizer)
            else:
                self._tokenizer = getattr(self.generator.generator, "tokenizer", None)
            if self._tokenizer is None:
                raise GenerationError(
                    f"{self.config.spec} has no tokenizer for prompt budgets; give a prompt "
                    "tokenizer (--prompt-tokenizer, prompt_tokenizer:)"
                )
        return self._tokenizer

    def generate(self, prompts: Sequence[str]) -> list[str]:
        """One output per prompt, in order, through the cache."""
        return self.generator.generate(list(prompts))

    def score(self, prompts: Sequence[str], targets: Sequence[str]) -> list[float]:
        """``log p(target | prompt)`` per pair, where the backend supports it."""
        score = getattr(self.generator.generator, "score", None)
        if score is None:
            raise GenerationError(f"{self.config.spec} cannot score likelihoods")
        return list(self.generator.score(list(prompts), list(targets)))

    def __repr__(self) -> str:
        return f"LLMEndpoint({self.config.spec!r}, max_length={self.config.max_length})"


def _auto_tokenizer(name: str) -> Any:
    from transformers import AutoTokenizer

    local = Path(name).expanduser()
    if name.startswith(("/", "./", "../", "~")) and not local.exists():
        raise GenerationError(f"prompt tokenizer {name!r}: no such file or directory")

    try:
        return AutoTokenizer.from_pretrained(name)
    except (OSError, ValueError) as error:
        raise GenerationError(f"cannot load the prompt tokenizer {name!r}: {error}") from None


def cache_file(root: str | os.PathLike[str] | None) -> Path | None:
    """The output cache file under a cache directory (None: the default location)."""
    return None if root is None else Path(root) / "generations.sqlite"
