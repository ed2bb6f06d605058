"""ROPG-KD: distil the LLM's per-candidate feedback into the retriever (paper eqs. 4-5).

Inputs (all ``(B, L)`` for ``B`` examples and ``L`` candidate slots):

- ``scores``: the retriever's scores ``R_theta(q, d)`` of each candidate (float, with grad);
- ``feedback``: ``EVAL(y, M(phi_p(x, [d])))``, the score of the LLM's output when the candidate
  is the only item in the prompt (LaMP-3: the normalized score; docs/lamp-fidelity.md);
- ``mask``: ``True`` for real candidates, ``False`` for empty slots of short profiles (None:
  all real). Masked slots get ``-inf`` logits and zero teacher mass; their values are ignored.

The loss (paper eq. 5, with a temperature ``T``)::

    p_t(d|x) = softmax_d(feedback(d) / T)          teacher, eq. 4, over the valid candidates
    p_s(d|x) = softmax_d(scores(d) / T)            student, eq. 1 restricted to the candidates
    loss     = 1/|B| * sum_x sum_d p_t(d|x) * (log p_t(d|x) - log p_s(d|x))   = KL(p_t || p_s)

averaged over the examples of the batch that have at least one real candidate (an example with
one candidate contributes 0).

``reference_compat=True`` reproduces the LaMP reference code instead: it passes the student's
*probabilities* ``p_s`` to ``torch.nn.CrossEntropyLoss`` with the teacher as soft targets, which
applies a second softmax::

    loss = 1/|B| * sum_x  - sum_d p_t(d|x) * log softmax_d(p_s(d|x))

Its gradients are much flatter (the inputs of the second softmax lie in [0, 1]); kept only to
reproduce the published numbers. ``kl`` is always the true KL divergence, for logging. Under
``reference_compat`` the batch also holds the reference's empty-string padding candidates as
unmasked slots whose feedback is the reference's never-written target (0, LaMP-3: the raw
worst error; :func:`ropg.training.data.reference_pad_feedback`), so the teacher is
``softmax(target / T)`` over real and padding candidates alike, as in the reference.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ropg.training.losses.common import check_inputs, masked_log_softmax, nonempty_rows


@dataclass
class KDOutput:
    """``loss`` (scalar, with grad) and ``kl`` (detached mean KL(teacher || student))."""

    loss: torch.Tensor
    kl: torch.Tensor


def teacher_distribution(
    feedback: torch.Tensor, mask: torch.Tensor, temperature: float = 1.0
) -> torch.Tensor:
    """``softmax(feedback / T)`` over the valid candidates of each row (0 at masked slots)."""
    return masked_log_softmax(feedback / temperature, mask).exp()


def kd_loss(
    scores: torch.Tensor,
    feedback: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    temperature: float = 1.0,
    reference_compat: bool = False,
) -> KDOutput:
    """The ROPG-KD loss of one batch (see the module docstring)."""
    mask = check_inputs(scores, feedback, mask, temperature)
    scores, feedback, mask = nonempty_rows(scores, feedback.to(scores.dtype), mask=mask)
    if scores.shape[0] == 0:
        zero = scores.sum() * 0.0
        return KDOutput(zero, zero.detach())
    feedback = feedback.detach()
    log_teacher = masked_log_softmax(feedback / temperature, mask)
    teacher = log_teacher.exp()
    log_student = masked_log_softmax(scores / temperature, mask)
    # masked slots: teacher mass 0, and both logs set to 0 so that no inf/NaN enters the sum
    # or its gradient (the backward of masked_fill zeroes them)
    log_teacher = log_teacher.masked_fill(~mask, 0.0)
    kl_rows = (teacher * (log_teacher - log_student.masked_fill(~mask, 0.0))).sum(dim=-1)
    kl = kl_rows.mean()
    if not reference_compat:
        return KDOutput(kl, kl.detach())
    student_probs = log_student.exp()  # the reference's "logits": probabilities in [0, 1]
    log_double = masked_log_softmax(student_probs, mask).masked_fill(~mask, 0.0)
    cross_entropy = -(teacher * log_double).sum(dim=-1).mean()
    return KDOutput(cross_entropy, kl.detach())
