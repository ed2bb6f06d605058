"""A word-level fast tokenizer for the tiny models ropg builds on the fly (smoke runs, tests,
the multistage quick start): lower-cased whitespace words, ``</s>`` appended."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

SPECIALS = ("<pad>", "</s>", "<unk>")
"""Token ids 0, 1, 2: pad, eos, unk."""


def word_tokenizer(words: Iterable[str], model_max_length: int | None = None) -> Any:
    """A lower-casing word-level fast tokenizer over ``words`` that appends ``</s>`` (ids: pad
    0, eos 1, unk 2); ``model_max_length`` as transformers' (None: its default)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {token: index for index, token in enumerate([*SPECIALS, *words])}
    backend = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    backend.normalizer = normalizers.Lowercase()
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    backend.decoder = decoders.WordPiece(prefix="##")
    backend.post_processor = processors.TemplateProcessing(
        single="$A </s>", special_tokens=[("</s>", 1)]
    )
    limits = {} if model_max_length is None else {"model_max_length": model_max_length}
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", **limits
    )
