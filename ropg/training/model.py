"""The trainable bi-encoder: any Hugging Face encoder + pooling, scored by dot product.

Pooling is :func:`ropg.retrievers.encoder.pool`, the very function inference uses: mean over the
attention mask (or the first token for ``cls``), in float32, then L2-normalized when
``normalize``; so a saved checkpoint ranks with exactly the scores it was trained with (up to
float tolerance from batching). The loader and the length cap come from there too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

# One loader, one length cap and one pooling for training and inference; re-exported here for
# the training code that imports them from this module.
from ropg.retrievers.encoder import (  # noqa: F401
    EncoderSettings,
    effective_max_length,
    load_model_and_tokenizer,
    pool,
)


def pack_by_length(lengths: list[int], max_tokens: int | None) -> list[list[int]]:
    """Group texts (by index) into forward passes of at most ``max_tokens`` padded tokens.

    Texts are sorted longest first, so each group is as wide as its first text; a group also
    ends where the lengths halve, so that short texts never pad up to a long one's width. A
    text longer than the budget gets a group of its own. ``None``: one group.
    """
    if max_tokens is None:
        return [list(range(len(lengths)))] if lengths else []
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    groups: list[list[int]] = []
    for index in order:
        if groups:
            group = groups[-1]
            width = max(lengths[group[0]], 1)
            if (len(group) + 1) * width <= max_tokens and 2 * lengths[index] > width:
                group.append(index)
                continue
        groups.append([index])
    return groups


def packed_apply(
    fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    max_tokens: int | None = None,
) -> torch.Tensor:
    """``fn(ids, mask)`` over a right-padded batch in length-sorted groups of at most
    ``max_tokens`` padded tokens (:func:`pack_by_length`), each trimmed to its longest text, so
    that one long text does not make a whole batch 512 tokens wide; rows come back in input
    order (gradients flow through)."""
    lengths = attention_mask.sum(dim=1).tolist()
    parts, positions = [], []
    for group in pack_by_length(lengths, max_tokens):
        width = max(max(lengths[i] for i in group), 1)
        index = torch.tensor(group, dtype=torch.long, device=input_ids.device)
        parts.append(fn(input_ids[index, :width], attention_mask[index, :width]))
        positions.append(index)
    if not parts:
        return torch.zeros(0, dtype=torch.float32, device=input_ids.device)
    order = torch.cat(positions)
    inverse = torch.empty_like(order)
    inverse[order] = torch.arange(len(order), device=order.device)
    return torch.cat(parts)[inverse]


def encode(
    model: Any,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    settings: EncoderSettings,
    max_tokens: int | None = None,
) -> torch.Tensor:
    """Pooled vectors ``(N, H)`` of a right-padded batch, with gradients (:func:`packed_apply`)."""

    def vectors(ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return pool(model(input_ids=ids, attention_mask=mask)[0], mask, settings)

    return packed_apply(vectors, input_ids, attention_mask, max_tokens)


def score_batch(
    model: Any, batch: dict[str, torch.Tensor], settings: EncoderSettings, max_tokens: int | None
) -> torch.Tensor:
    """Retrieval scores ``(B, L)`` of a :class:`~ropg.training.data.CandidateCollator` batch.

    ``score = doc_vector . query_vector`` (cosine when the vectors are normalized). Empty slots
    hold 0 and carry no gradient; the losses mask them.
    """
    queries = encode(
        model, batch["query_input_ids"], batch["query_attention_mask"], settings, max_tokens
    )
    feedback = batch["feedback"]
    scores = torch.zeros(feedback.shape, dtype=torch.float32, device=queries.device)
    if batch["doc_input_ids"].shape[0] == 0:
        return scores + 0.0 * queries.sum()
    documents = encode(
        model, batch["doc_input_ids"], batch["doc_attention_mask"], settings, max_tokens
    )
    rows, cols = batch["doc_rows"], batch["doc_cols"]
    values = (documents * queries[rows]).sum(dim=-1)
    return scores.index_put((rows, cols), values)


def resolve_mixed_precision(value: str) -> str:
    """``auto``: bf16 on a CUDA GPU that supports it, else none. On a CPU, bf16/fp16 are used
    only where the CPU runs them natively (measured 13x *slower* than fp32 on a CPU without)."""
    import logging

    from ropg.retrievers.encoder import cpu_supports

    if value == "auto":
        return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"
    if value in ("bf16", "fp16") and not torch.cuda.is_available() and not cpu_supports(value):
        logging.getLogger(__name__).warning(
            "mixed_precision %s: this CPU has no native %s support; training in fp32", value, value
        )
        return "no"
    return value
