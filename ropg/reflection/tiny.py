"""A tiny instruct-style causal LM, built offline: the reflection model of smoke runs and tests.

``save_tiny_chat_lm(directory, texts)`` writes a random-init Llama (2 layers, hidden 64 by
default, seeded) with a word-level tokenizer over the words of ``texts`` (whitespace split;
other words read as ``<unk>``), the four tag tokens as single tokens, and a chat template that
ends assistant turns with ``</s>``. ``model: tiny-chat`` in the SFT stage builds one from the
trajectories' prompts and targets. It learns small copying tasks in CPU seconds; it is no
language model.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ropg.utils.build_once import build_once
from ropg.utils.word_tokenizer import SPECIALS

TINY_ALIAS = "tiny-chat"
CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }} : {{ m['content'] }} "
    "{% if m['role'] == 'assistant' %}{{ eos_token }} {% endif %}{% endfor %}"
    "{% if add_generation_prompt %}assistant : {% endif %}"
)


def tag_tokens(reasoning_tag: str = "reasoning", answer_tag: str = "answer") -> list[str]:
    return [f"<{reasoning_tag}>", f"</{reasoning_tag}>", f"<{answer_tag}>", f"</{answer_tag}>"]


def word_tokenizer(words: Iterable[str], tags: Sequence[str]) -> Any:
    """A word-level tokenizer over ``words`` with ``tags`` as whole tokens and a chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocabulary = list(SPECIALS) + sorted(set(words) - set(SPECIALS) - set(tags))
    backend = Tokenizer(
        models.WordLevel(vocab={w: i for i, w in enumerate(vocabulary)}, unk_token="<unk>")
    )
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    backend.decoder = decoders.WordPiece(prefix="##")
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )
    tokenizer.add_tokens(list(tags))
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def save_tiny_chat_lm(
    directory: str | os.PathLike[str],
    texts: Iterable[str],
    *,
    hidden: int = 64,
    layers: int = 2,
    seed: int = 0,
    tags: Sequence[str] | None = None,
) -> Path:
    """Write the tiny model and its tokenizer (knowing every word of ``texts``) to ``directory``."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    words = {word for text in texts for word in str(text).split()}
    tokenizer = word_tokenizer(words | {"user", "assistant", "system", ":"}, tags or tag_tokens())
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        tie_word_embeddings=False,
    )
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = LlamaForCausalLM(config)
    finally:
        torch.random.set_rng_state(state)
    directory = Path(directory)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def resolve_tiny(model: str, run_dir: Path, texts: Iterable[str], tags: Sequence[str]) -> str:
    """``tiny-chat`` as a model built (once) under ``RUN/models/tiny-chat``; else ``model``."""
    if model != TINY_ALIAS:
        return model

    def build(temporary: Path) -> None:
        save_tiny_chat_lm(temporary, texts, tags=tags)

    return str(build_once(run_dir / "models" / TINY_ALIAS, build, "tiny-chat build")[0])
