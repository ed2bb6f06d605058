"""Train an RSPG selector (Pre or Post) from pool feedback, on the generic epoch loop.

The loop (accelerate, seeding, per-epoch checkpoints, exact ``resume``, ``metrics.json``) is
:mod:`ropg.training.loop`; this module adds the data (:func:`load_pool_records`), the model
(:mod:`ropg.selection.model`), the loss (:mod:`ropg.selection.loss`) and the dev figures:
after every epoch the selector picks a retriever for each dev input, and the figures are the
success rate and the task's official metrics of the selected outputs (``dev_success_rate``,
``dev_accuracy``, ``dev_MAE``, ``dev_rouge-1``, ...). The selected outputs are the stored
outputs of the chosen retrievers, which for Pre are what generating the chosen prompt with the
same (cached, deterministic) LLM gives.

At the end the selector is saved in ``output_dir`` and, with ``report`` (default), the
selection report (:mod:`ropg.selection.report`) is written there for the dev records (the train
records when there is no dev feedback): ``analysis.md``, ``analysis.json``,
``winning_rates.png``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ropg.retrievers.adapters import apply_adapter, record_base
from ropg.selection.analysis import oracle_names, success_rate
from ropg.selection.baselines import select_always, select_best_single
from ropg.selection.config import SelectorConfig
from ropg.selection.loss import selector_loss
from ropg.selection.model import (
    SelectorCollator,
    SelectorSettings,
    build_selector,
    save_selector,
    score_batch,
    score_records,
)
from ropg.selection.records import PoolRecord, load_train_dev_records, pool_names
from ropg.selection.report import qpp_selections, selection_figures
from ropg.training.loop import EpochTrainer, TrainResult

logger = logging.getLogger(__name__)


class SelectorTrainer(EpochTrainer):
    """Train an RSPG-Pre / RSPG-Post selector; see the module docstring."""

    name = "rspg-train"

    def __init__(self, config: SelectorConfig) -> None:
        super().__init__(config)
        self.config: SelectorConfig = config
        self.train_records: list[PoolRecord] = []

    def build(self) -> tuple[Any, Any, Any]:
        from ropg.lamp import get_task
        from ropg.training.model import effective_max_length

        config = self.config
        self.task = get_task(config.task)
        self.train_records, self.dev = load_train_dev_records(config, self.task)
        pool = list(pool_names(self.train_records))
        settings = SelectorSettings(
            mode=config.mode, pool=pool, max_length=config.max_length, pooling=config.pooling,
            global_attention=config.global_attention_mode, lowercase=config.lowercase,
            separator=config.separator, keep_output=config.keep_output, task=self.task.name,
        )  # fmt: skip
        model, self.tokenizer = build_selector(config.model, settings, config.trust_remote_code)
        model.encoder = apply_adapter(model.encoder, config)
        settings.max_length = effective_max_length(self.tokenizer, config.max_length)
        self.collator = SelectorCollator(self.tokenizer, settings)
        self.baselines = self._baselines()
        return model, list(enumerate(self.train_records)), self.collator

    def _baselines(self) -> dict[str, Any]:
        """Dev figures of the untrained selectors: best single (from train), QPP, oracle."""
        dev = self.dev
        if not dev:
            return {}
        best = select_best_single(self.train_records)
        baselines: dict[str, Any] = {"best_single": best, "examples": len(dev)}
        best_names = select_always(dev, best)
        baselines.update(selection_figures(dev, best_names, self.task, "best_single_"))
        for name, names in qpp_selections(dev, self.config.sigma_x).items():
            baselines[f"{name}_success_rate"] = success_rate(dev, names)
        baselines.update(selection_figures(dev, oracle_names(dev), self.task, "oracle_"))
        return baselines

    def describe(self) -> dict[str, Any]:
        config = self.config
        return {
            "mode": config.mode,
            "task": self.task.name,
            "model": config.model,
            "pool": list(self.collator.settings.pool),
        }

    def batch_loss(self, batch: dict[str, Any], epoch: int) -> tuple[Any, dict[str, Any]]:
        config = self.config
        with self.accelerator.autocast():
            scores = score_batch(self.model, batch, config.tokens_per_forward)
        scores, feedback = scores.float(), batch["feedback"]
        loss = selector_loss(scores, feedback, config.temperature, config.reference_compat)
        chosen = feedback.gather(1, scores.detach().argmax(dim=1, keepdim=True)).squeeze(1)
        success = (chosen >= feedback.max(dim=1).values - 1e-9).float().mean()
        return loss, {"success": success}

    def evaluate_model(self, model: Any) -> dict[str, Any]:
        config, accelerator = self.config, self.accelerator
        scores = score_records(
            model, self.dev, self.collator, batch_size=config.per_device_batch_size,
            max_tokens=config.tokens_per_forward, device=accelerator.device,
            autocast=accelerator.autocast,
        )  # fmt: skip
        pool = self.collator.settings.pool
        names = [pool[int(i)] for i in scores.argmax(axis=1)]
        return selection_figures(self.dev, names, self.task, "dev_")

    def save_model(self, model: Any) -> None:
        save_selector(model, self.tokenizer, self.output)
        record_base(model.encoder, Path(self.output))


def train_selector(config: SelectorConfig) -> TrainResult:
    """Train (or resume) a selector with ``config``; writes the report when it finishes.

    Returns a :class:`~ropg.training.loop.TrainResult`; ``result.output_dir`` is a directory
    that :func:`~ropg.selection.inference.load_selector` loads. ``result.metrics["report"]``
    holds the selection report's rows and paths when one was written.
    """
    trainer = SelectorTrainer(config)
    result = trainer.train()
    if result.completed and result.main_process and config.report:
        from ropg.selection.inference import load_selector
        from ropg.selection.report import write_report

        records = trainer.dev or trainer.train_records
        selector = load_selector(  # the saved selector, on the device it trained on
            result.output_dir,
            device=trainer.accelerator.device,
            batch_size=config.per_device_batch_size,
        )
        selector.max_tokens = config.tokens_per_forward
        label = f"RSPG-{config.mode.capitalize()}"
        report = write_report(
            result.output_dir,
            trainer.train_records,
            records,
            {label: selector.select(records)},
            trainer.task,
            sigma_x=config.sigma_x,
            seed=config.seed,
        )
        result.metrics["report"] = report
        logger.info("selection report: %s", report["files"]["markdown"])
    return result
