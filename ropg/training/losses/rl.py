"""ROPG-RL: REINFORCE with the LLM's per-candidate feedback as reward (paper eqs. 1-3).

Inputs (all ``(B, L)`` for ``B`` examples and ``L`` candidate slots, candidates in the initial
retriever's rank order, so slot 0 is the initial retriever's top candidate ``d_0``):

- ``scores``: the retriever's scores ``R_theta(q, d)`` (float, with grad);
- ``feedback``: ``EVAL(y, M(phi_p(x, [d])))`` per candidate (LaMP-3: the normalized score);
- ``mask``: ``True`` for real candidates, ``False`` for empty slots of short profiles (None:
  all real). Masked slots have probability 0 and are never sampled.

The policy is eq. 1 over the candidates, with a temperature ``T``::

    pi_theta(d|x) = softmax_d(scores(d) / T)

For every example ``n`` candidates ``d_1..d_n`` are drawn from ``pi_theta`` (with replacement,
not differentiated), and the loss is the negative of the eq. 3 objective::

    loss = - 1/(|B| n) * sum_x sum_i  log pi_theta(d_i|x) * reward_i

with one of these baselines (``baseline=``):

- ``"initial"`` (the paper, eq. 2; the default for ``n = 1``):
  ``reward_i = feedback(d_i) - feedback(d_0)``;
- ``"leave_one_out"`` (the default for ``n > 1``; Kool et al. 2019, "Buy 4 REINFORCE samples,
  get a baseline for free"): ``reward_i = feedback(d_i) - mean_{j != i} feedback(d_j)``;
- ``"none"``: ``reward_i = feedback(d_i)``.

Examples without any real candidate are left out of the mean. ``reward`` in the output is the
mean reward of the drawn samples (detached), for logging.

``padding`` (``(B, L)`` bool, optional) marks the LaMP reference's empty-string padding
candidates (``reference_compat``, :func:`ropg.training.data.reference_pad_feedback`): the
reference never writes their targets, so a drawn padding candidate's reward is its feedback
value *as it is* (0, or LaMP-3's raw worst error), whatever the baseline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ropg.training.losses.common import (
    check_inputs,
    full_mask,
    masked_log_softmax,
    nonempty_rows,
)

BASELINES = ("auto", "initial", "leave_one_out", "none")


@dataclass
class RLOutput:
    """``loss`` (scalar, with grad), mean ``reward`` and ``sampled`` feedback (detached), and
    the ``sampled`` indices ``(B', n)`` of the rows that had a real candidate."""

    loss: torch.Tensor
    reward: torch.Tensor
    sampled_feedback: torch.Tensor
    sampled: torch.Tensor


def resolve_baseline(baseline: str, samples: int) -> str:
    """``"auto"`` -> ``"initial"`` for one sample, ``"leave_one_out"`` for several."""
    if baseline not in BASELINES:
        raise ValueError(f"baseline must be one of {BASELINES}, got {baseline!r}")
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    if baseline == "auto":
        return "initial" if samples == 1 else "leave_one_out"
    if baseline == "leave_one_out" and samples < 2:
        raise ValueError("the leave-one-out baseline needs samples >= 2")
    return baseline


def policy_probabilities(
    scores: torch.Tensor, mask: torch.Tensor | None = None, temperature: float = 1.0
) -> torch.Tensor:
    """``softmax(scores / T)`` over the real candidates (detached, float32, 0 at masked)."""
    mask = check_inputs(scores, scores, mask, temperature)
    probs = torch.zeros_like(scores, dtype=torch.float32)
    keep = mask.any(dim=-1)
    rows = masked_log_softmax(scores.detach()[keep].float() / temperature, mask[keep]).exp()
    probs[keep] = rows
    return probs


def sample_candidates(
    probs: torch.Tensor, samples: int, seeds: Sequence[int] | None = None, generator=None
) -> torch.Tensor:
    """Draw ``samples`` candidate indices per row (with replacement) from ``probs``.

    With ``seeds`` (one per row) each row has its own ``torch.Generator``, so an example's draw
    depends only on its seed, not on the batch it is in or the number of processes. Rows
    without any probability mass get index 0 (they are dropped by the loss).
    """
    probs = probs.detach().float().cpu()
    empty = probs.sum(dim=-1) <= 0
    probs = probs.clone()
    probs[empty, 0] = 1.0
    if seeds is None:
        return torch.multinomial(probs, samples, replacement=True, generator=generator)
    if len(seeds) != probs.shape[0]:
        raise ValueError(f"{len(seeds)} seeds for {probs.shape[0]} rows")
    drawn = []
    for row, seed in zip(probs, seeds):
        row_generator = torch.Generator().manual_seed(int(seed))
        drawn.append(torch.multinomial(row, samples, replacement=True, generator=row_generator))
    return torch.stack(drawn) if drawn else torch.zeros((0, samples), dtype=torch.long)


def reinforce_loss(
    scores: torch.Tensor,
    feedback: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    temperature: float = 1.0,
    samples: int = 1,
    baseline: str = "auto",
    sampled: torch.Tensor | None = None,
    seeds: Sequence[int] | None = None,
    generator: torch.Generator | None = None,
    padding: torch.Tensor | None = None,
) -> RLOutput:
    """The ROPG-RL loss of one batch (see the module docstring).

    Args:
        sampled: ``(B, n)`` candidate indices to use instead of drawing them (``n`` then
            overrides ``samples``); they must point at real candidates.
        seeds: one seed per row for the draw when ``sampled`` is None (see
            :func:`sample_candidates`: each example's draw is then independent of its batch).
        generator: the ``torch.Generator`` used to draw when ``sampled`` and ``seeds`` are
            None.
        padding: ``(B, L)`` bool, the reference's padding slots: their reward is their
            feedback, no baseline subtracted (see the module docstring).
    """
    mask = check_inputs(scores, feedback, mask, temperature)
    if sampled is not None:
        if sampled.dim() != 2 or sampled.shape[0] != scores.shape[0]:
            raise ValueError(f"sampled must be (batch, n), got shape {tuple(sampled.shape)}")
        samples = sampled.shape[1]
    baseline = resolve_baseline(baseline, samples)
    if sampled is None:
        probs = policy_probabilities(scores, mask, temperature)
        sampled = sample_candidates(probs, samples, seeds=seeds, generator=generator)
    sampled = sampled.to(scores.device)
    if not bool(mask.gather(1, sampled)[mask.any(dim=-1)].all()):
        raise ValueError("a sampled index points at a masked (empty) candidate slot")
    padding = torch.zeros_like(mask) if padding is None else full_mask(scores, padding)
    scores, feedback, sampled, padding, mask = nonempty_rows(
        scores, feedback.to(scores.dtype), sampled, padding, mask=mask
    )
    if scores.shape[0] == 0:
        zero = scores.sum() * 0.0
        return RLOutput(zero, zero.detach(), zero.detach(), sampled)
    feedback = feedback.detach()
    log_policy = masked_log_softmax(scores / temperature, mask)
    chosen_log_p = log_policy.gather(1, sampled)
    chosen_feedback = feedback.gather(1, sampled)
    if baseline == "initial":
        reward = chosen_feedback - feedback[:, :1]
    elif baseline == "leave_one_out":
        others = chosen_feedback.sum(dim=1, keepdim=True) - chosen_feedback
        reward = chosen_feedback - others / (samples - 1)
    else:
        reward = chosen_feedback
    # the reference's padding targets are never written: the raw value, no baseline
    reward = torch.where(padding.gather(1, sampled), chosen_feedback, reward)
    loss = -(chosen_log_p * reward).mean()
    return RLOutput(loss, reward.mean().detach(), chosen_feedback.mean().detach(), sampled)
