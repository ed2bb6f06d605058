"""The RSPG loss: KL divergence from the LLM's per-retriever feedback to the selector.

Inputs (``(B, P)`` for ``B`` inputs and a pool of ``P`` retrievers): ``scores``, the selector's
score of each retriever's text (with grad), and ``feedback``, the score of each retriever's
LLM output (LaMP-3: the normalized score, docs/lamp-fidelity.md). With a temperature ``T``
(paper eqs. 7-9)::

    p_t(r|x) = softmax_r(feedback(r) / T)         target
    p_s(r|x) = softmax_r(scores(r) / T)           selector
    loss     = mean_x KL(p_t || p_s)

which is :func:`ropg.training.losses.kd_loss` (the ROPG-KD loss) over the pool.

``reference_compat=True`` reproduces the LaMP reference's placement of the temperature instead:
``KLDivLoss(reduction="batchmean")(log_softmax(scores) / T, softmax(feedback))``, i.e. the
target gets no temperature and the selector's *log-probabilities* are divided by ``T`` (not a
tempered distribution for ``T != 1``). Both are identical for ``T = 1``.
"""

from __future__ import annotations

import torch

from ropg.training.losses.kd import kd_loss


def selector_loss(
    scores: torch.Tensor,
    feedback: torch.Tensor,
    temperature: float = 1.0,
    reference_compat: bool = False,
) -> torch.Tensor:
    """The batch loss (see the module docstring)."""
    if not reference_compat:
        return kd_loss(scores, feedback, temperature=temperature).loss
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    log_target = torch.log_softmax(feedback.to(scores.dtype).detach(), dim=-1)
    log_input = torch.log_softmax(scores, dim=-1) / temperature
    return (log_target.exp() * (log_target - log_input)).sum(dim=-1).mean()
