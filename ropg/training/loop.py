"""The epoch loop every ropg trainer runs on: accelerate, accumulation, checkpoints, resume.

One process on a CPU by default; ``accelerate launch`` for several GPUs (data parallel,
gradients accumulated to the effective batch size, bf16 on GPUs that have it). A subclass of
:class:`EpochTrainer` supplies the model, the data and the loss through a few hooks; the loop
does the rest for a :class:`~ropg.training.run_config.TrainRunConfig`:

- Adam with a linear warmup schedule and gradient clipping; the seed sets everything, and the
  data order depends only on ``(seed, epoch)``;
- after every epoch: dev figures (when the trainer has dev data), a checkpoint
  (:mod:`ropg.training.checkpoints`) from which ``resume`` continues exactly, and
  ``metrics.json``;
- at the end, the trainer saves its model into ``output_dir`` next to ``train_config.yaml``.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ropg.training import checkpoints
from ropg.training.run_config import TrainRunConfig
from ropg.utils.distributed import average_gradients, multi_process_on_cpu
from ropg.utils.io import atomic_write_json

logger = logging.getLogger(__name__)

CONFIG_FILE = "train_config.yaml"
METRICS_FILE = "metrics.json"


@dataclass
class TrainResult:
    """Where the run wrote its model, its metrics, and whether it finished every epoch."""

    output_dir: Path
    metrics: dict[str, Any]
    completed: bool
    main_process: bool = True


class EpochTrainer:
    """Generic accelerate training loop; see the module docstring.

    Hooks for subclasses: :meth:`build` (model, train dataset, collate function; may set
    ``self.dev``), :meth:`batch_loss`, :meth:`evaluate_model`, :meth:`save_model` and
    :meth:`describe`. Batches are dicts of tensors with a ``positions`` entry (one per example).
    """

    name = "train"

    def __init__(self, config: TrainRunConfig) -> None:
        config.validate()
        self.config = config
        self.output = Path(config.output_dir)
        self.history: list[dict[str, Any]] = []
        self.run_info: dict[str, Any] = {}
        self.baselines: dict[str, Any] = {}
        self.dev: list[Any] = []
        self.global_step = 0

    # -- hooks ----------------------------------------------------------------------------
    def build(self) -> tuple[Any, Any, Any]:
        """``(model, train dataset, collate_fn)``; called after the seed is set."""
        raise NotImplementedError

    def batch_loss(self, batch: dict[str, Any], epoch: int) -> tuple[Any, dict[str, Any]]:
        """``(loss, extra figures to log)`` of one batch (run under ``accumulate``)."""
        raise NotImplementedError

    def evaluate_model(self, model: Any) -> dict[str, Any]:
        """Dev figures of the (unwrapped) model; called on the main process when ``self.dev``."""
        return {}

    def save_model(self, model: Any) -> None:
        """Write the trained (unwrapped) model into ``self.output`` (main process)."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """Run facts logged and stored in ``metrics.json`` (method, task, model, ...)."""
        return {}

    # -- setup --------------------------------------------------------------------------
    def _setup(self) -> Path | None:
        """Build everything; returns the checkpoint to resume from (None: a fresh run)."""
        import torch
        from accelerate import Accelerator
        from accelerate.utils import set_seed
        from torch.utils.data import DataLoader
        from transformers import get_linear_schedule_with_warmup

        from ropg.training.data import EpochSampler
        from ropg.training.model import resolve_mixed_precision

        config = self.config
        precision = resolve_mixed_precision(config.mixed_precision)
        self.accelerator = accelerator = Accelerator(
            cpu=multi_process_on_cpu(),  # else CPU processes never join one group
            mixed_precision=precision,
        )
        resume_from = checkpoints.resume_point(
            config, self.output, CONFIG_FILE, accelerator.is_main_process
        )
        accelerator.wait_for_everyone()
        if not accelerator.is_main_process:  # one process reports progress
            logging.disable(logging.INFO)  # this process only: warnings and errors still show
        per_step = config.per_device_batch_size * accelerator.num_processes
        accumulation = max(1, config.effective_batch_size // per_step)
        if accumulation * per_step != config.effective_batch_size:
            logger.warning(
                "effective batch %d is not a multiple of %d (batch size x processes): using %d",
                config.effective_batch_size, per_step, accumulation * per_step,
            )  # fmt: skip
        accelerator.gradient_accumulation_steps = accumulation
        set_seed(config.seed)
        model, train_data, collate = self.build()
        if config.gradient_checkpointing:
            model.gradient_checkpointing_enable()
        loader = DataLoader(
            train_data,
            batch_size=config.per_device_batch_size,
            collate_fn=collate,
            sampler=EpochSampler(len(train_data), config.seed),
        )
        optimizer = torch.optim.Adam(
            model.parameters(), config.lr, weight_decay=config.weight_decay
        )
        self.prepared_model, self.optimizer, self.loader = accelerator.prepare(
            model, optimizer, loader
        )
        # Forward through the bare module: a step calls it a varying number of times per
        # process, which DDP's hooks cannot follow; gradients are averaged by hand instead.
        self.model = accelerator.unwrap_model(self.prepared_model)
        self.steps_per_epoch = math.ceil(len(self.loader) / accumulation)
        total = self.steps_per_epoch * config.epochs
        processes = accelerator.num_processes  # accelerate steps the schedule once per process
        schedule = get_linear_schedule_with_warmup(
            self.optimizer, round(config.warmup_ratio * total) * processes, total * processes
        )
        self.scheduler = accelerator.prepare(schedule)
        self.run_info = {
            **self.describe(), "train_examples": len(train_data), "dev_examples": len(self.dev),
            "processes": processes, "device": str(accelerator.device),
            "mixed_precision": precision, "per_device_batch_size": config.per_device_batch_size,
            "gradient_accumulation_steps": accumulation,
            "effective_batch_size": accumulation * per_step,
            "steps_per_epoch": self.steps_per_epoch, "optimizer_steps": total,
        }  # fmt: skip
        logger.info("%s %s", self.name, self.run_info)
        return resume_from

    # -- the run --------------------------------------------------------------------------
    def train(self) -> TrainResult:
        """Run (or resume) training; returns the output directory and metrics."""
        config, output = self.config, self.output
        resume_from = self._setup()
        accelerator = self.accelerator
        start_epoch = 0
        if resume_from is not None:
            accelerator.load_state(str(resume_from))
            saved = checkpoints.read_state(resume_from)
            start_epoch, self.global_step = int(saved["epoch"]), int(saved["global_step"])
            self.history = list(saved.get("history", []))
            logger.info("resumed from %s after epoch %d", resume_from, start_epoch)
        else:
            if accelerator.is_main_process:
                output.mkdir(parents=True, exist_ok=True)
                config.save(output / CONFIG_FILE)
            if not self.dev:
                logger.info("no dev feedback given: per-epoch dev figures are skipped")
            elif config.eval_before_training:
                logger.info("dev baselines: %s", self.baselines)
                self.history.append({"epoch": 0, **self._evaluate()})
        completed = True
        for epoch in range(start_epoch, config.epochs):
            record = self._train_epoch(epoch)
            if self.dev:
                record.update(self._evaluate())
            self.history.append(record)
            logger.info("epoch %d: %s", epoch + 1, format_figures(record))
            self._checkpoint(epoch + 1)
            self._write_metrics(completed=False)
            if config.stop_after_epoch is not None and epoch + 1 >= config.stop_after_epoch:
                completed = epoch + 1 >= config.epochs
                break
        accelerator.wait_for_everyone()
        if completed and accelerator.is_main_process:
            self.save_model(self.model)
        metrics = self._write_metrics(completed)
        accelerator.wait_for_everyone()
        if completed:
            logger.info("trained model written to %s", output)
        else:
            logger.info("stopped after epoch %d; continue with --resume", config.stop_after_epoch)
        return TrainResult(output, metrics, completed, accelerator.is_main_process)

    def _train_epoch(self, epoch: int) -> dict[str, Any]:
        import torch

        config, accelerator, model = self.config, self.accelerator, self.prepared_model
        self.loader.set_epoch(epoch)  # the order depends only on (seed, epoch)
        model.train()
        sums: dict[str, float] = {}
        window: dict[str, float] = {}
        micro_batches, window_count, examples = 0, 0, 0
        started = time.perf_counter()
        for batch in self.loader:
            with accelerator.accumulate(model):
                loss, extra = self.batch_loss(batch, epoch)
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    average_gradients(self.model.parameters())
                    if config.max_grad_norm > 0:
                        accelerator.clip_grad_norm_(self.model.parameters(), config.max_grad_norm)
                self.optimizer.step()
                self.scheduler.step()
                self.optimizer.zero_grad()
            values = {"loss": float(loss.detach()), **{k: float(v) for k, v in extra.items()}}
            for key, value in values.items():
                sums[key] = sums.get(key, 0.0) + value
                window[key] = window.get(key, 0.0) + value
            micro_batches, window_count = micro_batches + 1, window_count + 1
            examples += int(batch["positions"].shape[0])
            if accelerator.sync_gradients:
                self.global_step += 1
                if self.global_step % config.log_every == 0:
                    logger.info(
                        "epoch %d step %d/%d lr %.3g %s", epoch + 1, self.global_step,
                        self.steps_per_epoch * config.epochs, self.scheduler.get_last_lr()[0],
                        format_figures({k: v / window_count for k, v in window.items()}),
                    )  # fmt: skip
                    window, window_count = {}, 0
        seconds = time.perf_counter() - started
        totals = torch.tensor([*sums.values(), micro_batches, examples], device=accelerator.device)
        totals = accelerator.reduce(totals, reduction="sum").tolist()
        record = {key: totals[i] / max(totals[-2], 1) for i, key in enumerate(sums)}
        record.update({
            "epoch": epoch + 1, "step": self.global_step, "lr": self.scheduler.get_last_lr()[0],
            "seconds": round(seconds, 3), "examples_per_s": totals[-1] / max(seconds, 1e-9),
        })  # fmt: skip
        return record

    def _evaluate(self) -> dict[str, Any]:
        """Dev figures, computed on the main process (the others wait)."""
        accelerator = self.accelerator
        figures: dict[str, Any] = {}
        if accelerator.is_main_process:
            figures = self.evaluate_model(self.model)
        accelerator.wait_for_everyone()
        return figures

    def _checkpoint(self, epoch: int) -> None:
        accelerator = self.accelerator
        path = checkpoints.checkpoint_dir(self.output, epoch)
        accelerator.save_state(str(path))
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            state = {"epoch": epoch, "global_step": self.global_step, "history": self.history}
            checkpoints.write_state(path, state)
            checkpoints.prune(self.output, self.config.keep_checkpoints)
        accelerator.wait_for_everyone()

    def _write_metrics(self, completed: bool) -> dict[str, Any]:
        metrics = {
            "run": self.run_info,
            "dev_baselines": self.baselines,
            "epochs": self.history,
            "final": self.history[-1] if self.history else {},
            "completed": completed,
        }
        if self.accelerator.is_main_process:
            atomic_write_json(self.output / METRICS_FILE, metrics, indent=2)
        return metrics


def format_figures(values: dict[str, Any]) -> str:
    """``key value`` pairs for a log line (floats with 4 significant digits)."""
    return " ".join(
        f"{key} {value:.4g}" if isinstance(value, float) else f"{key} {value}"
        for key, value in values.items()
    )
