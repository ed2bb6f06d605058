"""ROPG losses, one per file: ``kd`` (knowledge distillation) and ``rl`` (REINFORCE).

Both take ``scores`` and ``feedback`` of shape ``(batch, candidates)`` and a boolean ``mask``
(``True`` = real candidate); see each module's docstring for the equations.
"""

from __future__ import annotations

from ropg.training.losses.kd import KDOutput, kd_loss, teacher_distribution
from ropg.training.losses.rl import (
    BASELINES,
    RLOutput,
    policy_probabilities,
    reinforce_loss,
    resolve_baseline,
    sample_candidates,
)

__all__ = [
    "BASELINES",
    "KDOutput",
    "RLOutput",
    "kd_loss",
    "policy_probabilities",
    "reinforce_loss",
    "resolve_baseline",
    "sample_candidates",
    "teacher_distribution",
]
