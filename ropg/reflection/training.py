"""What the SFT and RL stages share: the stage directory, loading the model (with or without
LoRA), the trl/transformers arguments, checkpoints and ``--resume``, and saving the result.

A stage directory (``RUN/sft``, ``RUN/rl``) holds::

    rpo_<stage>_config.yaml    the resolved settings (resuming requires the same ones)
    checkpoints/checkpoint-N/  transformers checkpoints (model or adapter, optimizer, RNG)
    adapter/                   the LoRA adapter (LoRA runs only)
    model/                     a full model + tokenizer (merged with the adapter under LoRA):
                               what ``hf:RUN/<stage>/model`` generates with
    metrics.json               the run's facts and log history
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from pathlib import Path
from typing import Any

from ropg.errors import UserError
from ropg.utils.io import atomic_write_json

logger = logging.getLogger(__name__)

LORA_ABOVE_PARAMETERS = 1_000_000_000
CHECKPOINTS = "checkpoints"


def config_file(stage: str) -> str:
    return f"rpo_{stage}_config.yaml"


def count_parameters(model: str, trust_remote_code: bool = False) -> int:
    """Parameters of a model, counted on the meta device (nothing is loaded)."""
    from accelerate import init_empty_weights
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(model, trust_remote_code=trust_remote_code)
    with init_empty_weights():
        empty = AutoModelForCausalLM.from_config(config, trust_remote_code=trust_remote_code)
    return sum(parameter.numel() for parameter in empty.parameters())


def wants_lora(mode: str, model: str, trust_remote_code: bool = False) -> bool:
    """``lora: true/false``, or ``auto``: LoRA for models above 1B parameters."""
    if mode != "auto":
        return mode == "true"
    return count_parameters(model, trust_remote_code) > LORA_ABOVE_PARAMETERS


def lora_config(settings: Any) -> Any:
    """The peft ``LoraConfig`` of the settings."""
    from peft import LoraConfig

    targets = list(settings.lora_target_modules)
    return LoraConfig(
        task_type="CAUSAL_LM",
        r=settings.lora_r,
        lora_alpha=settings.lora_alpha,
        lora_dropout=settings.lora_dropout,
        target_modules="all-linear" if targets == ["all-linear"] else targets,
    )


def precision(mode: str) -> dict[str, bool]:
    """``bf16``/``fp16`` flags for transformers (``auto``: bf16 on a GPU that has it)."""
    import torch

    if mode == "auto":
        mode = "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"
    return {"bf16": mode == "bf16", "fp16": mode == "fp16"}


def trainer_arguments(settings: Any, stage_dir: Path, gradient_accumulation: int) -> dict[str, Any]:
    """The ``TrainingArguments`` fields both stages set the same way."""
    import torch
    from transformers import TrainingArguments

    known = {f.name for f in dataclasses.fields(TrainingArguments)}
    values: dict[str, Any] = {
        "output_dir": str(stage_dir / CHECKPOINTS),
        "num_train_epochs": settings.epochs,
        "learning_rate": settings.lr,
        "weight_decay": settings.weight_decay,
        "lr_scheduler_type": settings.lr_scheduler,
        "max_grad_norm": settings.max_grad_norm,
        "per_device_train_batch_size": settings.per_device_batch_size,
        "gradient_accumulation_steps": gradient_accumulation,
        "gradient_checkpointing": settings.gradient_checkpointing,
        "seed": settings.seed,
        "save_strategy": "steps",
        "save_steps": settings.save_steps,
        "save_total_limit": settings.keep_checkpoints or None,
        "logging_steps": settings.logging_steps,
        "report_to": [],
        "disable_tqdm": True,
        "dataloader_num_workers": 0,
        "use_cpu": not torch.cuda.is_available(),
        **precision(settings.mixed_precision),
    }
    if "warmup_ratio" in known:  # transformers 4.x
        values["warmup_ratio"] = settings.warmup_ratio
    else:  # transformers 5: a float warmup_steps is a ratio
        values["warmup_steps"] = settings.warmup_ratio
    return values


def resume_checkpoint(settings: Any, stage_dir: Path, stage: str, is_main: bool) -> str | None:
    """The checkpoint to resume from, or None for a fresh run (a used directory is refused
    unless ``resume`` or ``overwrite``; resuming needs the same result-deciding settings)."""
    from transformers.trainer_utils import get_last_checkpoint

    saved_file = stage_dir / config_file(stage)
    checkpoints = stage_dir / CHECKPOINTS
    used = saved_file.exists() or checkpoints.exists()
    if settings.resume:
        if saved_file.exists():
            saved = type(settings).load(saved_file).result_dict()
            changed = sorted(k for k, v in settings.result_dict().items() if saved.get(k) != v)
            if changed:
                raise UserError(
                    f"cannot resume {stage_dir}: settings differ from its {saved_file.name} "
                    f"({', '.join(changed)})"
                )
        if settings.resume != "latest":
            if not (Path(settings.resume) / "trainer_state.json").is_file():
                raise UserError(f"{settings.resume}: not a complete training checkpoint")
            return str(settings.resume)
        last = get_last_checkpoint(str(checkpoints)) if checkpoints.is_dir() else None
        if last is None:
            logger.warning("%s: no checkpoint yet; starting from the beginning", stage_dir)
        return last
    if used and not settings.overwrite:
        raise UserError(
            f"{stage_dir} already holds an RPO {stage} run; pass --resume to continue it, "
            "--overwrite to start over, or another --output-dir"
        )
    if used and is_main:
        for name in (CHECKPOINTS, "model", "adapter"):
            shutil.rmtree(stage_dir / name, ignore_errors=True)
    return None


def load_tokenizer(path: str, trust_remote_code: bool = False) -> Any:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_causal_lm(path: str, trust_remote_code: bool = False) -> Any:
    from transformers import AutoModelForCausalLM

    try:
        return AutoModelForCausalLM.from_pretrained(path, trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as error:
        raise UserError(f"cannot load the model {path!r}: {error}") from None


def start_model(path: str, lora: str, trust_remote_code: bool) -> tuple[Any, Any, bool]:
    """``(model, tokenizer, is_adapter)`` to train from ``path``.

    ``path`` is a model (Hub id or directory) or an earlier stage's directory: with an
    ``adapter/`` (and ``lora`` not ``false``) the adapter is loaded trainable and kept, and trl
    anchors the KL on a frozen copy of it (the SFT policy); otherwise its full ``model/``.
    """
    stage = Path(path).expanduser()
    adapter = stage / "adapter"
    if (adapter / "adapter_config.json").is_file() and lora != "false":
        from peft import PeftModel

        base = json.loads((adapter / "adapter_config.json").read_text())["base_model_name_or_path"]
        model = load_causal_lm(base, trust_remote_code)
        model = PeftModel.from_pretrained(model, str(adapter), is_trainable=True)
        return model, load_tokenizer(str(adapter), trust_remote_code), True
    if (stage / "model" / "config.json").is_file():
        path = str(stage / "model")
    return load_causal_lm(path, trust_remote_code), load_tokenizer(path, trust_remote_code), False


def model_path(path: str) -> str:
    """The full model directory of ``path`` (an earlier stage's ``model/``, else ``path``)."""
    stage = Path(path).expanduser()
    return str(stage / "model") if (stage / "model" / "config.json").is_file() else path


def save_result(trainer: Any, tokenizer: Any, stage_dir: Path, save_merged: bool) -> dict[str, str]:
    """Write ``adapter/`` (LoRA) and ``model/`` (full, merged under LoRA); their paths."""
    from accelerate.utils import is_peft_model

    model = trainer.accelerator.unwrap_model(trainer.model)
    written: dict[str, str] = {}
    if is_peft_model(model):
        adapter_dir = stage_dir / "adapter"
        model.save_pretrained(str(adapter_dir), selected_adapters=["default"])
        tokenizer.save_pretrained(str(adapter_dir))
        written["adapter"] = str(adapter_dir)
        if save_merged:
            merged = model.merge_and_unload(adapter_names=["default"])
            merged.save_pretrained(str(stage_dir / "model"))
            tokenizer.save_pretrained(str(stage_dir / "model"))
            written["model"] = str(stage_dir / "model")
    else:
        trainer.save_model(str(stage_dir / "model"))
        tokenizer.save_pretrained(str(stage_dir / "model"))
        written["model"] = str(stage_dir / "model")
    return written


def finish_stage(
    trainer: Any,
    tokenizer: Any,
    settings: Any,
    stage_dir: Path,
    stage: str,
    use_lora: bool,
    examples: int,
    result: Any,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Save the model when training completed; write and return the facts (with ``extra``)."""
    completed = trainer.state.global_step >= trainer.state.max_steps
    facts: dict[str, Any] = {
        "stage": stage,
        "output_dir": str(stage_dir),
        "steps": trainer.state.global_step,
        "max_steps": trainer.state.max_steps,
        "completed": completed,
        "lora": use_lora,
        "examples": examples,
        "train_loss": getattr(result, "training_loss", None),
        **(extra or {}),
    }
    if completed and trainer.is_world_process_zero():
        facts.update(save_result(trainer, tokenizer, stage_dir, settings.save_merged))
    if trainer.is_world_process_zero():
        write_metrics(stage_dir, {**facts, "log_history": trainer.state.log_history})
    return facts


def write_metrics(stage_dir: Path, facts: dict[str, Any]) -> None:
    atomic_write_json(stage_dir / "metrics.json", facts, indent=2)
