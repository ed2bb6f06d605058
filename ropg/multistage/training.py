"""Fine-tuning the pipeline's models on ``(input, target)`` pairs: seq2seq or causal.

The base model's config decides the kind: an encoder-decoder (T5, BART) trains with
transformers' ``Seq2SeqTrainer``, a causal LM with trl's ``SFTTrainer`` on prompt-completion
pairs (the loss on the completion only). Both run on accelerate, so ``accelerate launch``
spreads a run over several GPUs; on a CPU they run in one process.

Layout of ``output_dir``: ``key.json`` (what is trained: base model, data digest, settings),
``checkpoints/checkpoint-N`` (the trainer's, every ``save_steps``), ``model/`` (the final model
and tokenizer) and ``done.json`` (written last). A finished run is never trained again; an
unfinished one resumes from its last checkpoint (optimizer, scheduler, data order and RNG
states included), so a killed run continues where it stopped. Under ``accelerate launch`` only
the main process writes ``key.json``, ``model/`` and ``done.json``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ropg.errors import UserError
from ropg.utils.io import atomic_write_json
from ropg.utils.trainer_callbacks import logs_to_logging, stop_after_steps

logger = logging.getLogger(__name__)

OPTIMIZERS = ("adafactor", "adamw_torch")
PRECISIONS = ("auto", "no", "bf16", "fp16")


@dataclass(frozen=True)
class FineTuneSettings:
    """How a model is trained (the paper: Adafactor, lr 1e-3, 1,000 warmup steps, square-root
    decay). ``stop_after_steps`` and ``logging_steps`` do not change the result."""

    lr: float = 1e-3
    optimizer: str = "adafactor"
    scheduler: str = "inverse_sqrt"
    warmup_steps: int = 1000
    epochs: float = 1.0
    max_steps: int | None = None
    batch_size: int = 8
    gradient_accumulation: int = 1
    max_source_tokens: int = 1024
    max_target_tokens: int = 512
    weight_decay: float = 0.0
    mixed_precision: str = "auto"
    seed: int = 0
    save_steps: int = 500
    save_total_limit: int = 2
    logging_steps: int = 50
    stop_after_steps: int | None = None

    RUNTIME = frozenset({"logging_steps", "stop_after_steps", "save_steps", "save_total_limit"})

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise UserError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.mixed_precision not in PRECISIONS:
            raise UserError(f"mixed_precision must be one of {PRECISIONS}")
        if self.lr <= 0 or self.batch_size < 1 or self.gradient_accumulation < 1:
            raise UserError("lr must be > 0, batch_size and gradient_accumulation >= 1")

    def result_dict(self) -> dict[str, Any]:
        """The settings that decide the trained model."""
        return {k: v for k, v in asdict(self).items() if k not in self.RUNTIME}


def pairs_digest(pairs: Sequence[tuple[str, str]]) -> str:
    """A sha256 over the training pairs, in order."""
    digest = hashlib.sha256()
    for source, target in pairs:
        digest.update(source.encode("utf-8") + b"\0" + target.encode("utf-8") + b"\1")
    return digest.hexdigest()


@dataclass
class TrainingJob:
    """What :func:`fine_tune` is asked to do (planned first, so that under ``accelerate launch``
    the main process can prepare the inputs before every process trains)."""

    base_model: str
    pairs: Sequence[tuple[str, str]]
    output_dir: Path
    settings: FineTuneSettings

    def run(self) -> FineTuneResult:
        return fine_tune(self.base_model, self.pairs, self.output_dir, self.settings)


def is_main_process() -> bool:
    """Whether this process writes shared files (always, unless several were launched)."""
    from ropg.utils.distributed import launched_processes, process_state

    return launched_processes() <= 1 or bool(process_state().is_main_process)


@dataclass
class FineTuneResult:
    """Where the model is, whether it finished, and a few facts about the run."""

    model_dir: Path
    completed: bool
    facts: dict[str, Any]


def _is_encoder_decoder(model: str) -> bool:
    from transformers import AutoConfig

    try:
        return bool(getattr(AutoConfig.from_pretrained(model), "is_encoder_decoder", False))
    except (OSError, ValueError) as error:
        raise UserError(f"cannot load the model config of {model!r}: {error}") from None


def _device_arguments(setting: str) -> dict[str, bool]:
    """Mixed precision (``auto``: bf16 on a GPU that has it) and pinned memory (GPUs only)."""
    import torch

    gpu = torch.cuda.is_available()
    if setting == "auto":
        setting = "bf16" if gpu and torch.cuda.is_bf16_supported() else "no"
    return {"bf16": setting == "bf16", "fp16": setting == "fp16", "dataloader_pin_memory": gpu}


def _arguments(settings: FineTuneSettings, checkpoints: Path) -> dict[str, Any]:
    return {
        "output_dir": str(checkpoints),
        "learning_rate": settings.lr,
        "optim": settings.optimizer,
        "lr_scheduler_type": settings.scheduler,
        "warmup_steps": settings.warmup_steps,
        "num_train_epochs": settings.epochs,
        "max_steps": settings.max_steps if settings.max_steps is not None else -1,
        "per_device_train_batch_size": settings.batch_size,
        "gradient_accumulation_steps": settings.gradient_accumulation,
        "weight_decay": settings.weight_decay,
        "seed": settings.seed,
        "data_seed": settings.seed,
        "save_strategy": "steps",
        "save_steps": settings.save_steps,
        "save_total_limit": settings.save_total_limit,
        "logging_steps": settings.logging_steps,
        "report_to": [],
        "disable_tqdm": True,
        "dataloader_num_workers": 0,
        **_device_arguments(settings.mixed_precision),
    }


def _seq2seq_trainer(
    model: str, pairs: Sequence[tuple[str, str]], settings: FineTuneSettings, checkpoints: Path
) -> Any:
    import datasets
    from transformers import (
        AutoModelForSeq2SeqLM,
        AutoTokenizer,
        DataCollatorForSeq2Seq,
        Seq2SeqTrainer,
        Seq2SeqTrainingArguments,
    )

    tokenizer = AutoTokenizer.from_pretrained(model)
    network = AutoModelForSeq2SeqLM.from_pretrained(model)
    sources = tokenizer(
        [s for s, _ in pairs], max_length=settings.max_source_tokens, truncation=True
    )["input_ids"]
    targets = tokenizer(
        text_target=[t for _, t in pairs], max_length=settings.max_target_tokens, truncation=True
    )["input_ids"]
    dataset = datasets.Dataset.from_dict({"input_ids": sources, "labels": targets})
    return Seq2SeqTrainer(
        model=network,
        args=Seq2SeqTrainingArguments(**_arguments(settings, checkpoints)),
        train_dataset=dataset,
        data_collator=DataCollatorForSeq2Seq(tokenizer, model=network),
        processing_class=tokenizer,
        callbacks=[stop_after_steps(settings.stop_after_steps)],
    )


def _causal_trainer(
    model: str, pairs: Sequence[tuple[str, str]], settings: FineTuneSettings, checkpoints: Path
) -> Any:
    import datasets
    from transformers import AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    tokenizer = AutoTokenizer.from_pretrained(model)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    dataset = datasets.Dataset.from_dict(
        {"prompt": [s for s, _ in pairs], "completion": [" " + t for _, t in pairs]}
    )
    arguments = SFTConfig(
        **_arguments(settings, checkpoints),
        max_length=settings.max_source_tokens + settings.max_target_tokens,
        completion_only_loss=True,
    )
    return SFTTrainer(
        model=model,
        args=arguments,
        train_dataset=dataset,
        processing_class=tokenizer,
        callbacks=[stop_after_steps(settings.stop_after_steps)],
    )


def last_checkpoint(checkpoints: Path) -> str | None:
    """The newest ``checkpoint-N`` directory, or None."""
    if not checkpoints.is_dir():
        return None
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(checkpoints))


def fine_tune(
    base_model: str,
    pairs: Sequence[tuple[str, str]],
    output_dir: str | os.PathLike[str],
    settings: FineTuneSettings,
) -> FineTuneResult:
    """Train ``base_model`` on ``pairs`` into ``output_dir`` (module docstring), resumably."""
    output = Path(output_dir)
    key = {
        "base_model": str(base_model),
        "pairs": pairs_digest(pairs),
        "examples": len(pairs),
        "settings": settings.result_dict(),
    }
    done = output / "done.json"
    if done.is_file():
        facts = json.loads(done.read_text(encoding="utf-8"))
        if facts.get("key") == key:
            return FineTuneResult(output / "model", True, facts)
    if not pairs:
        raise UserError(f"{output}: no training examples")
    key_file = output / "key.json"
    if key_file.is_file() and json.loads(key_file.read_text(encoding="utf-8")) != key:
        raise UserError(
            f"{output} holds a training run with other settings; delete it to start over"
        )
    main = is_main_process()
    output.mkdir(parents=True, exist_ok=True)
    if main:
        atomic_write_json(key_file, key, indent=1)
    checkpoints = output / "checkpoints"
    resume = last_checkpoint(checkpoints)
    if resume:
        logger.info("%s: resuming from %s", output, resume)
    build = _seq2seq_trainer if _is_encoder_decoder(base_model) else _causal_trainer
    trainer = logs_to_logging(build(base_model, pairs, settings, checkpoints))
    result = trainer.train(resume_from_checkpoint=resume)
    steps = int(trainer.state.global_step)
    if trainer.control.should_training_stop and steps < trainer.state.max_steps:
        return FineTuneResult(output / "model", False, {"steps": steps, "resumed_from": resume})
    final = output / "model"
    staging = output / "model.partial"
    if main:
        shutil.rmtree(staging, ignore_errors=True)
    trainer.save_model(str(staging))  # every process joins (sharded models); the main writes
    facts = {
        "key": key,
        "steps": steps,
        "train_loss": float(result.training_loss),
        "resumed_from": Path(resume).name if resume else None,
    }
    if main:
        trainer.processing_class.save_pretrained(str(staging))
        shutil.rmtree(final, ignore_errors=True)
        os.replace(staging, final)
        atomic_write_json(done, facts, indent=1)
    trainer.accelerator.wait_for_everyone()
    return FineTuneResult(final, True, facts)
