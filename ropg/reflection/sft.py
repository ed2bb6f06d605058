"""Stage 1: supervised fine-tuning of the reflection model on the kept teacher trajectories.

trl's ``SFTTrainer`` on conversational prompt-completion data: the prompt is the reflection
prompt (with the items the teacher saw: the top-1 by default, as reported) rendered through
the model's chat template, the completion the trajectory's reasoning and answer blocks; the
loss is on the completion only. LoRA through peft (``lora: auto`` = for models above 1B
parameters). ``model: tiny-chat`` builds a tiny offline model (:mod:`ropg.reflection.tiny`).
Several GPUs: ``accelerate launch -m ropg.cli.rpo_train --stage sft ...``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from ropg.errors import UserError
from ropg.reflection.prompts import chat_messages
from ropg.reflection.tiny import resolve_tiny, tag_tokens
from ropg.reflection.training import (
    config_file,
    finish_stage,
    lora_config,
    model_path,
    resume_checkpoint,
    start_model,
    trainer_arguments,
    wants_lora,
)
from ropg.utils.trainer_callbacks import logs_to_logging, stop_after_steps

logger = logging.getLogger(__name__)


def sft_dataset(records: Sequence[Mapping[str, Any]], system_prompt: str | None) -> Any:
    """Conversational prompt-completion rows from kept trajectory records."""
    from datasets import Dataset

    rows = [
        {
            "prompt": chat_messages(str(record["prompt"]), system_prompt),
            "completion": [{"role": "assistant", "content": str(record["completion"])}],
        }
        for record in records
    ]
    return Dataset.from_list(rows)


def gradient_accumulation(effective: int, per_device: int, processes: int) -> int:
    """Accumulation steps for ``effective`` sequences per optimizer step."""
    if effective % (per_device * processes):
        raise UserError(
            f"effective_batch_size {effective} is not a multiple of per_device_batch_size "
            f"{per_device} x {processes} process(es)"
        )
    return effective // (per_device * processes)


def train_sft(settings: Any, records: Sequence[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """Train the reflection model by SFT; return the facts (JSON-able).

    Args:
        settings: :class:`~ropg.reflection.train_config.RpoSftSettings`.
        records: kept trajectory records (default: read ``settings.trajectories_file``, or
            ``OUTPUT_DIR/train/trajectories.jsonl``).

    Returns:
        ``{"stage", "output_dir", "steps", "max_steps", "completed", "lora", "examples",
        "model", "adapter", "train_loss"}``.
    """
    from accelerate import PartialState
    from trl import SFTConfig, SFTTrainer

    from ropg.reflection.trajectories import read_trajectories

    state = PartialState()
    stage_dir = settings.run_dir / "sft"
    resume = resume_checkpoint(settings, stage_dir, "sft", state.is_main_process)
    if records is None:
        path = settings.trajectories_file or settings.run_dir / "train" / "trajectories.jsonl"
        records = read_trajectories(path)
    if not records:
        raise UserError("no kept trajectories to train on (see the trajectories report)")
    texts = [f"{r['prompt']} {r['completion']}" for r in records]
    tags = tag_tokens(settings.reasoning_tag, settings.answer_tag)
    model_name = resolve_tiny(settings.model, settings.run_dir, texts, tags)
    model, tokenizer, is_adapter = start_model(
        model_name, settings.lora, settings.trust_remote_code
    )
    if not getattr(tokenizer, "chat_template", None):
        raise UserError(f"{model_name}: the tokenizer has no chat template (an instruct model)")
    use_lora = is_adapter or wants_lora(
        settings.lora, model_path(model_name), settings.trust_remote_code
    )
    peft_config = lora_config(settings) if use_lora and not is_adapter else None
    accumulation = gradient_accumulation(
        settings.effective_batch_size, settings.per_device_batch_size, state.num_processes
    )
    arguments = SFTConfig(
        **trainer_arguments(settings, stage_dir, accumulation),
        max_length=settings.max_length,
        completion_only_loss=True,
        packing=False,
    )
    if state.is_main_process:
        stage_dir.mkdir(parents=True, exist_ok=True)
        settings.save(stage_dir / config_file("sft"))
    trainer = SFTTrainer(
        model=model,
        args=arguments,
        train_dataset=sft_dataset(records, settings.system_prompt),
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[stop_after_steps(settings.stop_after_steps)],
    )
    result = logs_to_logging(trainer).train(resume_from_checkpoint=resume)
    return finish_stage(
        trainer, tokenizer, settings, stage_dir, "sft", use_lora, len(records), result
    )
