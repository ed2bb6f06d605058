"""The generator protocol, its decoding config and the helpers every backend shares.

A generator turns prompts into outputs. It knows nothing of LaMP. Each one has an
``identity``: a JSON-able dict naming the backend, the exact model (hub commit or a
fingerprint of a local directory) and the decoding parameters. Two generators with equal
identities produce the same outputs for the same prompts, which is what makes the
persistent cache (:mod:`ropg.generation.cache`) safe.
"""

from __future__ import annotations

import dataclasses
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from ropg.generation.errors import GenerationError, UnsupportedOperationError

BatchCallback = Callable[[list[int], list[str]], None]
"""Called with (indices into the prompt list, their outputs) as each batch finishes."""

# Fields that change how fast outputs come, never what they are: not part of any identity.
RUNTIME_FIELDS: frozenset[str] = frozenset({"batch_size"})
SAMPLING_FIELDS: frozenset[str] = frozenset({"temperature", "top_p", "top_k", "seed"})


@dataclass(frozen=True)
class GenerationConfig:
    """Decoding parameters, shared by every backend.

    Attributes:
        max_new_tokens: at most this many generated tokens per prompt.
        num_beams: beam width; 1 is greedy (or plain sampling with ``do_sample``).
        do_sample: sample instead of searching.
        temperature, top_p, top_k: sampling parameters (``top_k=0`` disables top-k);
            ignored, and left out of the identity, unless ``do_sample``.
        repetition_penalty: 1.0 disables it.
        length_penalty: beam-search length penalty (only used with ``num_beams > 1``).
        max_input_length: prompts are cut to their first this-many tokens (``None``: never).
        stop: outputs are cut before the first occurrence of any of these strings.
        seed: random seed for sampling (set once per call: sampled outputs depend on which
            prompts share a batch, so only greedy/beam outputs are batch-invariant).
        batch_size: prompts per forward pass (or concurrent requests' batch for writes);
            changes speed only, so it is not part of the identity.
    """

    max_new_tokens: int = 128
    num_beams: int = 4
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    repetition_penalty: float = 1.0
    length_penalty: float = 1.0
    max_input_length: int | None = 512
    stop: tuple[str, ...] = field(default_factory=tuple)
    seed: int = 0
    batch_size: int = 8

    def __post_init__(self) -> None:
        if isinstance(self.stop, str):
            object.__setattr__(self, "stop", (self.stop,))
        else:
            object.__setattr__(self, "stop", tuple(self.stop))
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.num_beams < 1:
            raise ValueError(f"num_beams must be >= 1, got {self.num_beams}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")
        if self.max_input_length is not None and self.max_input_length < 1:
            raise ValueError(f"max_input_length must be >= 1 or None, got {self.max_input_length}")
        if self.do_sample and self.temperature <= 0:
            raise ValueError(f"temperature must be > 0 when sampling, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.top_k < 0:
            raise ValueError(f"top_k must be >= 0, got {self.top_k}")
        if any(not stop for stop in self.stop):
            raise ValueError("stop strings must not be empty")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> GenerationConfig:
        """Build from a mapping (e.g. a YAML section); unknown keys are an error."""
        from ropg.utils.config import coerce_settings

        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown generation config keys: {', '.join(unknown)}")
        return cls(**coerce_settings(cls, values, "generation"))

    def to_dict(self) -> dict[str, Any]:
        """All fields, JSON-able (``stop`` as a list)."""
        values = dataclasses.asdict(self)
        values["stop"] = list(self.stop)
        return values

    def replace(self, **changes: Any) -> GenerationConfig:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def decoding_identity(self) -> dict[str, Any]:
        """The fields that decide the outputs: runtime-only and unused fields are left out."""
        values = self.to_dict()
        for name in RUNTIME_FIELDS:
            values.pop(name)
        if not self.do_sample:
            for name in SAMPLING_FIELDS:
                values.pop(name)
        if self.num_beams == 1:
            values.pop("length_penalty")
        return values


@runtime_checkable
class Generator(Protocol):
    """Anything with a decoding ``config``, an ``identity`` and ``generate`` is a generator.

    ``generate`` returns one output per prompt, in order. Backends that can also compute
    likelihoods offer ``score(prompts, targets) -> list[float]``, the summed
    ``log p(target | prompt)`` over target tokens.
    Backends may accept a keyword ``on_batch`` callback (:data:`BatchCallback`) that is
    called as each batch finishes, which lets the cache persist partial progress.
    """

    config: GenerationConfig

    @property
    def identity(self) -> dict[str, Any]: ...

    def generate(
        self, prompts: Sequence[str], config: GenerationConfig | None = None
    ) -> list[str]: ...


class BaseGenerator(ABC):
    """Shared behaviour of the built-in backends.

    Subclasses set ``backend``, implement :meth:`model_identity` (what model, exactly) and
    :meth:`_generate` (outputs in prompt order, calling ``on_batch`` as batches finish).
    """

    backend: ClassVar[str] = "base"
    runtime_options: ClassVar[frozenset[str]] = frozenset({"show_progress"})
    """Options that change how a generator runs, never what it outputs; a caller (the LLM
    endpoint) sets them only when the backend lists them here."""

    def __init__(
        self,
        config: GenerationConfig | None = None,
        *,
        show_progress: bool = True,
        name: str | None = None,
    ) -> None:
        self.config = config if config is not None else GenerationConfig()
        self.show_progress = show_progress
        self.name = name or self.backend
        self._model_identity: dict[str, Any] | None = None

    @abstractmethod
    def model_identity(self) -> dict[str, Any]:
        """What produces the outputs, decoding aside: model, revision/fingerprint, dtype."""

    @property
    def identity(self) -> dict[str, Any]:
        """Backend + model identity + this generator's decoding parameters (JSON-able)."""
        return self.identity_for(self.config)

    def identity_for(self, config: GenerationConfig) -> dict[str, Any]:
        """The identity this generator would have with ``config`` as its decoding config."""
        if self._model_identity is None:
            self._model_identity = self.model_identity()
        return {
            "backend": self.backend,
            **self._model_identity,
            "decoding": config.decoding_identity(),
        }

    def generate(
        self,
        prompts: Sequence[str],
        config: GenerationConfig | None = None,
        *,
        on_batch: BatchCallback | None = None,
    ) -> list[str]:
        """One output per prompt, in the given order.

        Args:
            prompts: the prompt texts.
            config: decoding parameters for this call (default: ``self.config``).
            on_batch: called with ``(indices, outputs)`` as each batch finishes.
        """
        prompts = list(prompts)
        for prompt in prompts:
            if not isinstance(prompt, str):
                raise TypeError(f"prompts must be strings, got {type(prompt).__name__}")
        if not prompts:
            return []
        return self._generate(prompts, config if config is not None else self.config, on_batch)

    @abstractmethod
    def _generate(
        self, prompts: list[str], config: GenerationConfig, on_batch: BatchCallback | None
    ) -> list[str]: ...

    def score(self, prompts: Sequence[str], targets: Sequence[str]) -> list[float]:
        """Summed log-probability of each target given its prompt, where supported."""
        raise UnsupportedOperationError(f"the {self.backend} backend cannot score likelihoods")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def identity_json(identity: Mapping[str, Any]) -> str:
    """The canonical JSON text of an identity (sorted keys, no whitespace)."""
    return json.dumps(identity, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def effective_identity(generator: Generator, config: GenerationConfig | None) -> dict[str, Any]:
    """The identity under which ``generator.generate(prompts, config)`` produces outputs."""
    if config is None:
        return dict(generator.identity)
    identity_for = getattr(generator, "identity_for", None)
    if callable(identity_for):
        return dict(identity_for(config))
    return {**generator.identity, "decoding": config.decoding_identity()}


def apply_stop(text: str, stop: Sequence[str]) -> str:
    """Cut ``text`` before the first occurrence of any stop string."""
    cut = len(text)
    for marker in stop:
        position = text.find(marker)
        if position != -1:
            cut = min(cut, position)
    return text[:cut]


def deliver_batch(
    outputs: list[str],
    batch: Sequence[int],
    texts: Sequence[str],
    stop: Sequence[str],
    on_batch: Any = None,
) -> None:
    """Cut a finished batch's ``texts`` at the stop strings, store them in ``outputs`` at the
    prompts' positions ``batch`` and report them to ``on_batch`` (the cache's callback)."""
    cut = [apply_stop(text, stop) for text in texts]
    for index, text in zip(batch, cut, strict=True):
        outputs[index] = text
    if on_batch is not None:
        on_batch(list(batch), cut)


def length_sorted_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped in batches of similar length, longest first (out-of-memory shows early).

    Sorting is stable, so equal lengths keep their input order.
    """
    order = sorted(range(len(lengths)), key=lambda index: -lengths[index])
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


def encode_prompts(tokenizer: Any, texts: Sequence[str], max_length: int | None) -> list[list[int]]:
    """Token ids of each prompt, special tokens included, cut on the right at ``max_length``
    (``None``: never); the hf and vllm backends tokenize prompts alike."""
    encoded = tokenizer(
        list(texts),
        truncation=max_length is not None,
        max_length=max_length,
        add_special_tokens=True,
    )["input_ids"]
    return [list(ids) for ids in encoded]


def encode_targets(
    tokenizer: Any, targets: Sequence[str], include_eos: bool, model: str
) -> list[list[int]]:
    """Token ids of each target to score: no special tokens, then EOS when ``include_eos``
    (the probability of generating exactly the target).

    Raises:
        GenerationError: the tokenizer of ``model`` has no EOS token (and one is asked for),
            or a target has no tokens at all.
    """
    eos = [tokenizer.eos_token_id] if include_eos else []
    if include_eos and eos[0] is None:
        raise GenerationError(f"the tokenizer of {model!r} has no EOS token")
    encoded = tokenizer(list(targets), add_special_tokens=False)["input_ids"]
    target_ids = [list(ids) + eos for ids in encoded]
    if any(not ids for ids in target_ids):
        raise GenerationError("a target has no tokens to score")
    return target_ids
