"""A tiny T5 built on the fly over a data set's own words, for CPU runs and tests.

``build_tiny_t5(directory, texts)`` writes a randomly initialised (seeded) T5 with a word-level
tokenizer whose vocabulary is every lower-cased word and punctuation run of ``texts`` plus the
pipeline's instructions and field names. It trains in seconds on a CPU: a quick start shows
every stage working, not the paper's numbers. The same inputs and torch version write the same
files (so generation caches keyed by the model's fingerprint survive a rebuild).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ropg.multistage import prompts
from ropg.utils.build_once import build_once
from ropg.utils.word_tokenizer import SPECIALS, word_tokenizer

_TOKEN = re.compile(r"\w+|[^\w\s]+")
TINY_ALIAS = "tiny-t5"


@dataclass(frozen=True)
class TinyT5Settings:
    """Size of the tiny T5 (a few hundred thousand parameters by default)."""

    d_model: int = 64
    d_ff: int = 128
    num_heads: int = 4
    num_layers: int = 2
    seed: int = 0


def vocabulary(texts: Iterable[str]) -> list[str]:
    """Sorted distinct lower-cased tokens of ``texts`` and of the pipeline's fixed strings."""
    fixed = [
        prompts.GENERATION_INSTRUCTION,
        prompts.AUTHOR_INSTRUCTION,
        prompts.SUMMARY_INSTRUCTION,
        prompts.KEYWORDS_INSTRUCTION,
        *prompts.FIELD_ORDER,
        "passage 1 passage 2 : true false ,",
        "summarize",
    ]
    tokens: set[str] = set()
    for text in [*fixed, *texts]:
        tokens.update(_TOKEN.findall(text.lower()))
    return sorted(tokens - set(SPECIALS))


def build_tiny_t5(
    directory: str | os.PathLike[str], texts: Iterable[str], settings: TinyT5Settings | None = None
) -> Path:
    """Write the tiny T5 and its tokenizer to ``directory`` once (atomically; processes that
    build it at once end with one build)."""
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    chosen = settings or TinyT5Settings()

    def build(temporary: Path) -> None:
        tokenizer = word_tokenizer(vocabulary(texts), model_max_length=4096)
        config = T5Config(
            vocab_size=len(tokenizer),
            d_model=chosen.d_model,
            d_ff=chosen.d_ff,
            d_kv=chosen.d_model // chosen.num_heads,
            num_heads=chosen.num_heads,
            num_layers=chosen.num_layers,
            num_decoder_layers=chosen.num_layers,
            decoder_start_token_id=0,
            pad_token_id=0,
            eos_token_id=1,
            dropout_rate=0.0,
        )
        state = torch.random.get_rng_state()
        torch.manual_seed(chosen.seed)
        try:
            T5ForConditionalGeneration(config).save_pretrained(temporary)
        finally:
            torch.random.set_rng_state(state)
        tokenizer.save_pretrained(temporary)

    return build_once(directory, build, "tiny T5 build")[0]
