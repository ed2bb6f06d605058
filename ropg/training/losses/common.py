"""Helpers shared by the ROPG losses: masks and masked (log-)softmax over candidates.

Every loss takes a ``(batch, candidates)`` score matrix and a boolean mask of the same shape,
``True`` for a real candidate and ``False`` for an empty slot (a profile shorter than the
number of candidates). Masked slots get ``-inf`` logits, so they have zero probability, zero
teacher mass and zero gradient; their scores and feedback values are never read.
"""

from __future__ import annotations

import torch


def full_mask(scores: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """``mask`` as a bool tensor shaped like ``scores`` (all ``True`` when None)."""
    if mask is None:
        return torch.ones_like(scores, dtype=torch.bool)
    if mask.shape != scores.shape:
        raise ValueError(f"mask shape {tuple(mask.shape)} != scores shape {tuple(scores.shape)}")
    return mask.to(dtype=torch.bool, device=scores.device)


def check_inputs(
    scores: torch.Tensor, feedback: torch.Tensor, mask: torch.Tensor | None, temperature: float
) -> torch.Tensor:
    """Validate shapes and the temperature; return the bool mask."""
    if scores.dim() != 2:
        raise ValueError(f"scores must be (batch, candidates), got shape {tuple(scores.shape)}")
    if feedback.shape != scores.shape:
        raise ValueError(
            f"feedback shape {tuple(feedback.shape)} != scores shape {tuple(scores.shape)}"
        )
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    return full_mask(scores, mask)


def masked_log_softmax(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``log_softmax`` over the ``True`` entries of each row; ``-inf`` at masked entries.

    Rows need at least one ``True`` entry (callers drop empty rows first).
    """
    return torch.log_softmax(logits.masked_fill(~mask, float("-inf")), dim=-1)


def nonempty_rows(*tensors: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The rows of ``tensors`` (and of ``mask``, last) that have at least one real candidate.

    Selecting rows (rather than masking them) keeps NaNs of all-``-inf`` rows out of the
    gradient.
    """
    keep = mask.any(dim=-1)
    if bool(keep.all()):
        return (*tensors, mask)
    return (*(tensor[keep] for tensor in tensors), mask[keep])
