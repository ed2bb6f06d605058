"""Tiny offline models, fake generators and worker functions for the generation tests.

Imported by the ``test_generation*.py`` files (``from generation_fixtures import ...``);
heavy libraries are imported inside the fixtures so that subprocess workers stay light.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from ropg.generation import BaseGenerator, CachedGenerator, GenerationCache, GenerationConfig
from ropg.generation.base import BatchCallback

WORDS = (
    "the a cat dog sat on mat user wrote about movies books music likes red blue green review "
    "title product rating one two three four five paper abstract news sport tweet style write "
    "short long good bad happy sad new old fast slow"
).split()
SPECIALS = ["<pad>", "</s>", "<unk>", "<s>"]
PROMPTS = [
    "the cat sat on the mat",
    "dog",
    "user wrote about movies and books and music",
    "review title",
    "a",
    "red blue green review of the product rating five",
    "the dog likes the cat",
]


def build_tokenizer(template: str) -> Any:
    """A WordLevel tokenizer over :data:`WORDS`; ``template`` is the single-text template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {token: index for index, token in enumerate(SPECIALS + WORDS)}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.decoder = decoders.WordPiece(prefix="##")
    backend.post_processor = processors.TemplateProcessing(
        single=template, special_tokens=[("</s>", 1), ("<s>", 3)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        pad_token="<pad>",
        eos_token="</s>",
        unk_token="<unk>",
        bos_token="<s>",
    )


def save_t5(directory: Path) -> Path:
    """A 1-layer T5 (d_model 32) and a tokenizer that appends ``</s>``."""
    import torch
    from transformers import T5ForConditionalGeneration

    from ropg.benchmark.smoke import tiny_t5_config

    torch.manual_seed(0)
    config = tiny_t5_config(len(SPECIALS) + len(WORDS))
    T5ForConditionalGeneration(config).save_pretrained(directory)
    build_tokenizer("$A </s>").save_pretrained(directory)
    return directory


def save_causal(directory: Path, kind: str) -> Path:
    """A 2-layer Llama or GPT-2 (hidden 32) and a tokenizer that prepends ``<s>``."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    ids = {"bos_token_id": 3, "eos_token_id": 1, "pad_token_id": 0}
    vocab_size = len(SPECIALS) + len(WORDS)
    if kind == "llama":
        config = LlamaConfig(
            vocab_size=vocab_size,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=128,
            initializer_range=0.3,
            **ids,
        )
        model = LlamaForCausalLM(config)
    else:
        config = GPT2Config(
            vocab_size=vocab_size,
            n_embd=32,
            n_layer=2,
            n_head=4,
            n_positions=128,
            initializer_range=0.3,
            **ids,
        )
        model = GPT2LMHeadModel(config)
    model.save_pretrained(directory)
    build_tokenizer("<s> $A").save_pretrained(directory)
    return directory


@contextlib.contextmanager
def single_torch_thread() -> Iterator[None]:
    """Tiny models gain nothing from threads, and threads thrash on a busy 2-core machine."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


_BUILT: dict[str, Path] = {}


def tiny_model_dir(factory: pytest.TempPathFactory, kind: str) -> Path:
    """A saved tiny model (``t5``, ``llama`` or ``gpt2``), built once per session.

    Test files wrap it in their own fixtures (importing fixtures would trip ruff's F811).
    """
    if kind not in _BUILT:
        directory = factory.mktemp(f"tiny-{kind}")
        _BUILT[kind] = save_t5(directory) if kind == "t5" else save_causal(directory, kind)
    return _BUILT[kind]


class EchoGenerator(BaseGenerator):
    """Fast fake backend: output = ``config.max_new_tokens`` then the upper-cased prompt.

    Records every batch it generates; raises after ``fail_after_batches`` batches.
    """

    backend = "echo"

    def __init__(
        self,
        config: GenerationConfig | None = None,
        *,
        fail_after_batches: int | None = None,
        model: str = "echo-1",
    ) -> None:
        super().__init__(config or GenerationConfig(num_beams=1, batch_size=2), name="echo")
        self.model = model
        self.batches: list[list[str]] = []
        self.fail_after_batches = fail_after_batches

    def model_identity(self) -> dict[str, Any]:
        return {"model": self.model}

    def _generate(
        self, prompts: list[str], config: GenerationConfig, on_batch: BatchCallback | None
    ) -> list[str]:
        outputs = []
        for start in range(0, len(prompts), config.batch_size):
            if self.fail_after_batches is not None and len(self.batches) >= self.fail_after_batches:
                raise RuntimeError("simulated crash")
            batch = prompts[start : start + config.batch_size]
            self.batches.append(batch)
            texts = [f"{config.max_new_tokens}:{prompt.upper()}" for prompt in batch]
            outputs.extend(texts)
            if on_batch is not None:
                on_batch(list(range(start, start + len(batch))), texts)
        return outputs

    @property
    def generated(self) -> list[str]:
        return [prompt for batch in self.batches for prompt in batch]


class PlainGenerator:
    """A plug-in written against the bare protocol (no ``on_batch``, no base class)."""

    def __init__(self, target: str = "plain", **options: Any) -> None:
        self.config = GenerationConfig(num_beams=1, batch_size=options.get("batch_size", 3))
        self.target = target
        self.options = options
        self.calls: list[list[str]] = []

    @property
    def identity(self) -> dict[str, Any]:
        return {"backend": "plain", "model": self.target, "decoding": {}}

    def generate(self, prompts: Sequence[str], config: GenerationConfig | None = None) -> list[str]:
        self.calls.append(list(prompts))
        return [prompt[::-1] for prompt in prompts]


def cache_writer(path: str, worker: int, count: int, start: Any = None) -> None:
    """Subprocess body: generate ``count`` prompts (half shared by all workers) into ``path``,
    after ``start`` (a multiprocessing event) is set."""
    if start is not None:
        start.wait(60)
    generator = EchoGenerator(GenerationConfig(num_beams=1, batch_size=5))
    cached = CachedGenerator(generator, GenerationCache(path, timeout=60))
    prompts = [f"shared {i}" if i % 2 == 0 else f"own {worker} {i}" for i in range(count)]
    outputs = cached.generate(prompts)
    assert outputs == [f"128:{prompt.upper()}" for prompt in prompts]
    cached.cache.close()
