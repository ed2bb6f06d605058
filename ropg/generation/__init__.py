"""Generation backends (transformers, vLLM, OpenAI-compatible servers) and a persistent cache.

Knows nothing of LaMP: prompts in, outputs out, every (model, decoding parameters, prompt)
generated once::

    from ropg.generation import CachedGenerator, GenerationConfig, get_generator

    generator = get_generator("hf:google/flan-t5-base", config=GenerationConfig(num_beams=4))
    outputs = CachedGenerator(generator).generate(["Translate to German: thank you"])

Backends are imported on first use (torch only for ``hf``, vLLM only for ``vllm``).
"""

from __future__ import annotations

from ropg.generation.base import (
    BaseGenerator,
    BatchCallback,
    GenerationConfig,
    Generator,
    apply_stop,
    effective_identity,
    identity_json,
    length_sorted_batches,
)
from ropg.generation.cache import (
    CachedGenerator,
    GenerationCache,
    default_cache_path,
    generation_key,
)
from ropg.generation.errors import (
    BackendUnavailableError,
    GenerationError,
    GenerationTimeoutError,
    RemoteGenerationError,
    UnsupportedOperationError,
)
from ropg.generation.registry import (
    GeneratorSpec,
    generator_names,
    get_generator,
    parse_generator_spec,
    register_generator,
)
from ropg.generation.stats import CacheStats, GeneratorEntries

__all__ = [
    "BackendUnavailableError",
    "BaseGenerator",
    "BatchCallback",
    "CacheStats",
    "CachedGenerator",
    "GenerationCache",
    "GenerationConfig",
    "GenerationError",
    "GenerationTimeoutError",
    "Generator",
    "GeneratorEntries",
    "GeneratorSpec",
    "RemoteGenerationError",
    "UnsupportedOperationError",
    "apply_stop",
    "default_cache_path",
    "effective_identity",
    "generation_key",
    "generator_names",
    "get_generator",
    "identity_json",
    "length_sorted_batches",
    "parse_generator_spec",
    "register_generator",
]
