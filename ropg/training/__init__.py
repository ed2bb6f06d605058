"""ROPG: train dense retrievers from per-candidate LLM feedback (KD or RL), on accelerate.

``ropg-train`` (:mod:`ropg.cli.train`) is the command line; from Python::

    from ropg.training import RopgTrainConfig, train

    config = RopgTrainConfig.load("ropg-kd.yaml", {"output_dir": "runs/kd"})
    result = train(config)          # result.output_dir holds the trained encoder

Names are imported lazily, so that ``import ropg.training.config`` does not load torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "RopgTrainConfig": "ropg.training.config",
    "CandidateExample": "ropg.training.data",
    "load_candidate_examples": "ropg.training.data",
    "reference_pad_feedback": "ropg.training.data",
    "kd_loss": "ropg.training.losses.kd",
    "reinforce_loss": "ropg.training.losses.rl",
    "RopgTrainer": "ropg.training.trainer",
    "TrainResult": "ropg.training.trainer",
    "train": "ropg.training.trainer",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'ropg.training' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
