"""The ROPG trainer: a dense retriever learns from LLM feedback with KD or RL, on accelerate.

One process on a CPU by default; ``accelerate launch -m ropg.cli.train ...`` for several GPUs
(data parallel, gradients accumulated to the effective batch size, bf16 on GPUs that have it).

Each step encodes the batch's queries and their candidate documents with the same encoder,
scores them by dot product (cosine when ``normalize``), and applies the KD or RL loss
(:mod:`ropg.training.losses`) to the scores and the feedback. After every epoch: dev figures
(:mod:`ropg.training.evaluation`) when dev feedback is given, and a checkpoint
(:mod:`ropg.training.checkpoints`) from which ``resume`` continues exactly. At the end the
encoder is written with :func:`~ropg.retrievers.encoder.save_encoder` into ``output_dir``, so
``get_retriever("dense", model=output_dir)`` ranks with it; ``train_config.yaml`` and
``metrics.json`` sit next to it.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ropg.lamp.errors import LampError
from ropg.retrievers.encoder import EncoderSettings, save_encoder
from ropg.training import checkpoints
from ropg.training.config import RopgTrainConfig
from ropg.training.data import CandidateCollator, EpochSampler, load_candidate_examples
from ropg.training.evaluation import evaluate_dev, feedback_baselines
from ropg.training.losses import kd_loss, policy_probabilities, reinforce_loss, sample_candidates
from ropg.training.model import (
    effective_max_length,
    load_model_and_tokenizer,
    resolve_mixed_precision,
    score_batch,
)
from ropg.utils.io import atomic_write_json

logger = logging.getLogger(__name__)

CONFIG_FILE = "train_config.yaml"
METRICS_FILE = "metrics.json"


@dataclass
class TrainResult:
    """Where the run wrote its encoder, its metrics, and whether it finished every epoch."""

    output_dir: Path
    metrics: dict[str, Any]
    completed: bool
    main_process: bool = True


def example_seed(seed: int, epoch: int, position: int) -> int:
    """The RL sampling seed of one example in one epoch (independent of batching)."""
    return ((seed * 1_000_003 + epoch) * 1_000_033 + position) % (2**63 - 1)


class RopgTrainer:
    """Train a dense retriever with ROPG-KD or ROPG-RL; see the module docstring.

    ``train()`` sets up (accelerator, data, model, optimizer, schedule), restores a checkpoint
    when resuming, then runs the epochs; the pieces live on the instance while it runs.
    """

    def __init__(self, config: RopgTrainConfig) -> None:
        config.validate()
        self.config = config
        self.output = Path(config.output_dir)
        self.settings = EncoderSettings(
            pooling=config.pooling,
            normalize=config.normalize,
            max_length=config.max_length,
            similarity=config.similarity,
        )
        self.history: list[dict[str, Any]] = []
        self.run_info: dict[str, Any] = {}
        self.baselines: dict[str, Any] = {}
        self.global_step = 0

    # -- setup --------------------------------------------------------------------------
    def _load_examples(self, task: Any) -> tuple[list[Any], list[Any]]:
        from ropg.lamp import LampSplit, load_split

        config = self.config

        def split(name: str, limit: int | None) -> LampSplit:
            loaded = load_split(config.data, task, name, layout=config.layout)
            if limit is None:
                return loaded
            return LampSplit(task, loaded.split, loaded.examples[:limit], loaded.questions_path)

        common = {"candidates": config.candidates, "use_date": config.use_date}
        train = load_candidate_examples(
            split(config.train_split, config.limit_train),
            config.train_feedback,
            reference_compat=config.reference_compat,
            min_candidates=2,
            **common,
        )
        if not train:
            raise LampError(f"{task.name} {config.train_split}: no example has 2+ candidates")
        dev = []
        if config.dev_feedback:
            dev_split = split(config.dev_split, config.limit_dev)
            dev = load_candidate_examples(dev_split, config.dev_feedback, **common)
        return train, dev

    def _setup(self) -> Path | None:
        """Build everything; returns the checkpoint to resume from (None: a fresh run)."""
        import torch
        from accelerate import Accelerator, DistributedDataParallelKwargs
        from accelerate.utils import set_seed
        from torch.utils.data import DataLoader
        from transformers import get_linear_schedule_with_warmup

        from ropg.lamp import get_task

        config = self.config
        precision = resolve_mixed_precision(config.mixed_precision)
        self.accelerator = accelerator = Accelerator(
            mixed_precision=precision,
            kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)],
        )
        resume_from = checkpoints.resume_point(
            config, self.output, CONFIG_FILE, accelerator.is_main_process
        )
        accelerator.wait_for_everyone()
        if not accelerator.is_main_process:  # one process reports progress
            logging.getLogger("ropg.training").setLevel(logging.WARNING)
        per_step = config.per_device_batch_size * accelerator.num_processes
        accumulation = max(1, config.effective_batch_size // per_step)
        if accumulation * per_step != config.effective_batch_size:
            logger.warning(
                "effective batch %d is not a multiple of %d (batch size x processes): using %d",
                config.effective_batch_size, per_step, accumulation * per_step,
            )  # fmt: skip
        accelerator.gradient_accumulation_steps = accumulation
        set_seed(config.seed)
        task = get_task(config.task)
        train_examples, self.dev = self._load_examples(task)
        model, self.tokenizer = load_model_and_tokenizer(config.model, config.trust_remote_code)
        if config.gradient_checkpointing:
            model.gradient_checkpointing_enable()
        max_length = effective_max_length(self.tokenizer, config.max_length)
        self.collator = CandidateCollator(self.tokenizer, max_length, config.candidates)
        loader = DataLoader(
            train_examples,
            batch_size=config.per_device_batch_size,
            collate_fn=self.collator,
            sampler=EpochSampler(len(train_examples), config.seed),
        )
        optimizer = torch.optim.Adam(
            model.parameters(), config.lr, weight_decay=config.weight_decay
        )
        self.model, self.optimizer, self.loader = accelerator.prepare(model, optimizer, loader)
        self.steps_per_epoch = math.ceil(len(self.loader) / accumulation)
        total = self.steps_per_epoch * config.epochs
        processes = accelerator.num_processes  # accelerate steps the schedule once per process
        schedule = get_linear_schedule_with_warmup(
            self.optimizer, round(config.warmup_ratio * total) * processes, total * processes
        )
        self.scheduler = accelerator.prepare(schedule)
        self.run_info = {
            "method": config.method, "task": task.name, "model": config.model,
            "train_examples": len(train_examples), "dev_examples": len(self.dev),
            "processes": processes, "device": str(accelerator.device),
            "mixed_precision": precision, "per_device_batch_size": config.per_device_batch_size,
            "gradient_accumulation_steps": accumulation,
            "effective_batch_size": accumulation * per_step,
            "steps_per_epoch": self.steps_per_epoch, "optimizer_steps": total,
        }  # fmt: skip
        self.baselines = feedback_baselines(self.dev, config.eval_k)
        logger.info("ropg-train %s", self.run_info)
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
            logger.info("epoch %d: %s", epoch + 1, _fmt(record))
            self._checkpoint(epoch + 1)
            self._write_metrics(completed=False)
            if config.stop_after_epoch is not None and epoch + 1 >= config.stop_after_epoch:
                completed = epoch + 1 >= config.epochs
                break
        accelerator.wait_for_everyone()
        if completed and accelerator.is_main_process:
            encoder = accelerator.unwrap_model(self.model)
            save_encoder(encoder, self.tokenizer, self.settings, output)
        metrics = self._write_metrics(completed)
        accelerator.wait_for_everyone()
        if completed:
            logger.info("trained encoder written to %s", output)
        else:
            logger.info("stopped after epoch %d; continue with --resume", config.stop_after_epoch)
        return TrainResult(output, metrics, completed, accelerator.is_main_process)

    def _loss(self, scores: Any, batch: dict[str, Any], epoch: int) -> tuple[Any, dict[str, Any]]:
        config = self.config
        if config.method == "kd":
            out = kd_loss(
                scores,
                batch["feedback"],
                batch["mask"],
                temperature=config.temperature,
                reference_compat=config.reference_compat,
            )
            return out.loss, {"kl": out.kl}
        seeds = [example_seed(config.seed, epoch, p) for p in batch["positions"].tolist()]
        probs = policy_probabilities(scores, batch["mask"], config.temperature)
        out = reinforce_loss(
            scores,
            batch["feedback"],
            batch["mask"],
            temperature=config.temperature,
            baseline=config.rl_baseline,
            sampled=sample_candidates(probs, config.rl_samples, seeds=seeds),
        )
        return out.loss, {"reward": out.reward, "sampled_feedback": out.sampled_feedback}

    def _train_epoch(self, epoch: int) -> dict[str, Any]:
        import torch

        config, accelerator, model = self.config, self.accelerator, self.model
        self.loader.set_epoch(epoch)  # the order depends only on (seed, epoch)
        model.train()
        sums: dict[str, float] = {}
        window: dict[str, float] = {}
        micro_batches, window_count, examples = 0, 0, 0
        started = time.perf_counter()
        for batch in self.loader:
            with accelerator.accumulate(model):
                with accelerator.autocast():
                    scores = score_batch(model, batch, self.settings, config.tokens_per_forward)
                loss, extra = self._loss(scores.float(), batch, epoch)
                accelerator.backward(loss)
                if accelerator.sync_gradients and config.max_grad_norm > 0:
                    accelerator.clip_grad_norm_(model.parameters(), config.max_grad_norm)
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
                        _fmt({k: v / window_count for k, v in window.items()}),
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
        accelerator, config = self.accelerator, self.config
        figures: dict[str, Any] = {}
        if accelerator.is_main_process:
            figures = evaluate_dev(
                accelerator.unwrap_model(self.model), self.dev, self.collator, self.settings,
                config.eval_k, batch_size=config.per_device_batch_size,
                max_tokens=config.tokens_per_forward, device=accelerator.device,
                autocast=accelerator.autocast,
            )  # fmt: skip
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


def _fmt(values: dict[str, Any]) -> str:
    return " ".join(
        f"{key} {value:.4g}" if isinstance(value, float) else f"{key} {value}"
        for key, value in values.items()
    )


def train(config: RopgTrainConfig) -> TrainResult:
    """Train with ``config`` (convenience wrapper around :class:`RopgTrainer`)."""
    return RopgTrainer(config).train()
