"""ROPG: train dense retrievers from per-candidate LLM feedback (KD or RL), on accelerate.

``ropg-train`` (:mod:`ropg.cli.train`) is the command line; from Python::

    from ropg.training import RopgTrainConfig, train

    config = RopgTrainConfig.load("ropg-kd.yaml", {"output_dir": "runs/kd"})
    result = train(config)          # result.output_dir holds the trained encoder

Names are imported lazily, so that ``import ropg.training.config`` does not load torch.
"""

from __future__ import annotations

from ropg.utils.lazy import lazy_exports

_EXPORTS = {
    "RopgTrainConfig": "ropg.training.config",
    "TrainRunConfig": "ropg.training.run_config",
    "EpochTrainer": "ropg.training.loop",
    "CandidateExample": "ropg.training.data",
    "load_candidate_examples": "ropg.training.data",
    "reference_pad_feedback": "ropg.training.data",
    "kd_loss": "ropg.training.losses.kd",
    "reinforce_loss": "ropg.training.losses.rl",
    "RopgTrainer": "ropg.training.trainer",
    "TrainResult": "ropg.training.loop",
    "train": "ropg.training.trainer",
}

__all__ = sorted(_EXPORTS)


__getattr__ = lazy_exports(__name__, _EXPORTS)
