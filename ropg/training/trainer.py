"""The ROPG trainer: a dense retriever learns from LLM feedback with KD or RL, on accelerate.

One process on a CPU by default; ``accelerate launch -m ropg.cli.train ...`` for several GPUs
(the generic loop, checkpoints and resume are :mod:`ropg.training.loop`).

Each step encodes the batch's queries and their candidate documents with the same encoder,
scores them by dot product (cosine when ``normalize``), and applies the KD or RL loss
(:mod:`ropg.training.losses`) to the scores and the feedback. After every epoch: dev figures
(:mod:`ropg.training.evaluation`) when dev feedback is given, and a checkpoint from which
``resume`` continues exactly. At the end the encoder is written with
:func:`~ropg.retrievers.encoder.save_encoder` into ``output_dir``, so
``get_retriever("dense", model=output_dir)`` ranks with it; ``train_config.yaml`` and
``metrics.json`` sit next to it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ropg.errors import UserError
from ropg.retrievers.adapters import apply_adapter, record_base
from ropg.retrievers.encoder import EncoderSettings, save_encoder
from ropg.training.config import RopgTrainConfig
from ropg.training.data import CandidateCollator, load_candidate_examples
from ropg.training.evaluation import evaluate_dev, feedback_baselines
from ropg.training.loop import CONFIG_FILE, METRICS_FILE, EpochTrainer, TrainResult
from ropg.training.losses import kd_loss, reinforce_loss
from ropg.training.model import effective_max_length, load_model_and_tokenizer, score_batch

logger = logging.getLogger(__name__)

__all__ = ["CONFIG_FILE", "METRICS_FILE", "RopgTrainer", "TrainResult", "example_seed", "train"]


def example_seed(seed: int, epoch: int, position: int) -> int:
    """The RL sampling seed of one example in one epoch (independent of batching)."""
    return ((seed * 1_000_003 + epoch) * 1_000_033 + position) % (2**63 - 1)


class RopgTrainer(EpochTrainer):
    """Train a dense retriever with ROPG-KD or ROPG-RL; see the module docstring."""

    name = "ropg-train"

    def __init__(self, config: RopgTrainConfig) -> None:
        super().__init__(config)
        self.config: RopgTrainConfig = config
        self.settings = EncoderSettings(
            pooling=config.pooling,
            normalize=config.normalize,
            max_length=config.max_length,
            similarity=config.similarity,
        )

    # -- setup --------------------------------------------------------------------------
    def _load_examples(self, task: Any) -> tuple[list[Any], list[Any]]:
        from ropg.lamp import LampSplit, load_split

        config = self.config

        def split(name: str, limit: int | None) -> LampSplit:
            return load_split(config.data, task, name, layout=config.layout).head(limit)

        common = {"candidates": config.candidates, "use_date": config.use_date}
        train = load_candidate_examples(
            split(config.train_split, config.limit_train),
            config.train_feedback,
            reference_compat=config.reference_compat,
            min_candidates=2,
            **common,
        )
        if not train:
            raise UserError(f"{task.name} {config.train_split}: no example has 2+ candidates")
        dev = []
        if config.dev_feedback:
            dev_split = split(config.dev_split, config.limit_dev)
            dev = load_candidate_examples(dev_split, config.dev_feedback, **common)
        return train, dev

    def build(self) -> tuple[Any, Any, Any]:
        from ropg.lamp import get_task

        config = self.config
        self.task = get_task(config.task)
        train_examples, self.dev = self._load_examples(self.task)
        model, self.tokenizer = load_model_and_tokenizer(config.model, config.trust_remote_code)
        model = apply_adapter(model, config)
        max_length = effective_max_length(self.tokenizer, config.max_length)
        self.collator = CandidateCollator(self.tokenizer, max_length, config.candidates)
        self.baselines = feedback_baselines(self.dev, config.eval_k)
        return model, train_examples, self.collator

    def describe(self) -> dict[str, Any]:
        return {"method": self.config.method, "task": self.task.name, "model": self.config.model}

    # -- hooks ----------------------------------------------------------------------------
    def batch_loss(self, batch: dict[str, Any], epoch: int) -> tuple[Any, dict[str, Any]]:
        config = self.config
        with self.accelerator.autocast():
            scores = score_batch(self.model, batch, self.settings, config.tokens_per_forward)
        scores = scores.float()
        if config.method == "kd":
            out = kd_loss(
                scores,
                batch["feedback"],
                batch["mask"],
                temperature=config.temperature,
                reference_compat=config.reference_compat,
            )
            return out.loss, {"kl": out.kl}
        out = reinforce_loss(
            scores,
            batch["feedback"],
            batch["mask"],
            temperature=config.temperature,
            samples=config.rl_samples,
            baseline=config.rl_baseline,
            seeds=[example_seed(config.seed, epoch, p) for p in batch["positions"].tolist()],
            padding=batch["padding"],
        )
        return out.loss, {"reward": out.reward, "sampled_feedback": out.sampled_feedback}

    def evaluate_model(self, model: Any) -> dict[str, Any]:
        config, accelerator = self.config, self.accelerator
        return evaluate_dev(
            model, self.dev, self.collator, self.settings, config.eval_k,
            batch_size=config.per_device_batch_size, max_tokens=config.tokens_per_forward,
            device=accelerator.device, autocast=accelerator.autocast,
        )  # fmt: skip

    def save_model(self, model: Any) -> None:
        save_encoder(model, self.tokenizer, self.settings, self.output)
        record_base(model, Path(self.output))


def train(config: RopgTrainConfig) -> TrainResult:
    """Train with ``config`` (convenience wrapper around :class:`RopgTrainer`)."""
    return RopgTrainer(config).train()
