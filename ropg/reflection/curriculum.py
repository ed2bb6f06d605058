"""The progressive multi-context curriculum K(e): how many retrieved items each RL prompt holds.

``curriculum`` is a list of K values, one per stage; the stages split the optimizer steps of
the whole run into equal consecutive shares (step ``s`` of ``S`` is in stage
``floor(s * n / S)``). So ``[2, 3, 4, 5, 6]`` over one epoch is the paper's 2 -> 6 curriculum,
``[2, 4, 6]`` with three epochs is "a K per epoch", ``linear:2:6`` spells ``[2, 3, 4, 5, 6]``,
and ``[4]`` is a fixed-K run (the paper's ablation).

The curriculum is realised by the data, not by the trainer: the RL dataset is laid out step
by step in training order (each epoch a fresh seeded permutation of the prompts), each row
rendered with its step's K, and the trainer reads it unshuffled. One trainer runs the whole
curriculum, so the KL stays anchored on the SFT policy (a trainer per stage would re-anchor it
on the policy of the stage before).
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Sequence
from typing import Any

from ropg.errors import UserError

logger = logging.getLogger(__name__)

_LINEAR = re.compile(r"^linear:(\d+):(\d+)$")


def parse_curriculum(values: Sequence[Any] | str) -> list[int]:
    """K per stage from ``["2", "3"]``, ``"2,3,4"``, ``[4]`` or ``["linear:2:6"]``."""
    if isinstance(values, str):
        values = [values]
    parts = [p.strip() for v in values for p in str(v).split(",") if p.strip()]
    if len(parts) == 1 and _LINEAR.match(parts[0]):
        start, stop = (int(g) for g in _LINEAR.match(parts[0]).groups())  # type: ignore[union-attr]
        step = 1 if stop >= start else -1
        parts = [str(k) for k in range(start, stop + step, step)]
    ks = []
    for part in parts:
        if not part.isdigit() or int(part) < 1:
            raise UserError(
                f"curriculum: {part!r} is not a number of items >= 1 (give e.g. [2, 3, 4, 5, 6], "
                "linear:2:6 or a single K)"
            )
        ks.append(int(part))
    if not ks:
        raise UserError("curriculum: give at least one K")
    return ks


def k_per_step(curriculum: Sequence[int], steps: int) -> list[int]:
    """K of each of ``steps`` optimizer steps: the stages split the steps into equal shares."""
    stages = len(curriculum)
    if steps < stages:
        logger.warning("%d RL steps for %d curriculum stages: some stages get none", steps, stages)
    return [curriculum[min(stages - 1, step * stages // steps)] for step in range(steps)]


def training_order(n_prompts: int, epochs: int, seed: int) -> list[int]:
    """Prompt indices in training order: a seeded permutation per epoch."""
    order: list[int] = []
    for epoch in range(epochs):
        indices = list(range(n_prompts))
        random.Random(f"{seed}|{epoch}").shuffle(indices)
        order.extend(indices)
    return order


def curriculum_plan(
    n_prompts: int, epochs: int, prompts_per_step: int, curriculum: Sequence[int], seed: int
) -> list[tuple[int, int, int]]:
    """``(step, prompt index, K)`` of every RL prompt in training order.

    The last partial step is dropped (trl's sampler drops it too).
    """
    order = training_order(n_prompts, epochs, seed)
    steps = len(order) // prompts_per_step
    if steps == 0:
        raise UserError(
            f"{n_prompts} RL prompts x {epochs} epoch(s) make no full step of "
            f"{prompts_per_step} prompts; lower prompts_per_step"
        )
    ks = k_per_step(curriculum, steps)
    return [
        (step, order[step * prompts_per_step + j], ks[step])
        for step in range(steps)
        for j in range(prompts_per_step)
    ]
