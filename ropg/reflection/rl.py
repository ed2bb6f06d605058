"""Stage 2: reinforcement learning of the SFT reflection model, with the K-item curriculum.

trl's ``RLOOTrainer``, set as close to REINFORCE++-baseline (OpenRLHF) as trl allows:
``num_generations`` samples per prompt (16, as reported), a group-mean baseline (RLOO's
leave-one-out baseline is the group mean scaled by G/(G-1); after normalization the two give
the same update direction per group), advantages whitened over the whole batch
(``normalize_advantages``), and a KL penalty in the reward against the **SFT policy** (the
starting model: a frozen copy of the SFT adapter under LoRA, the SFT checkpoint otherwise).
RLOO is chosen over GRPO because GRPO puts the KL into the loss (k3) and normalizes per group,
while REINFORCE++ puts a k1 KL into the reward and normalizes globally, as RLOO does. What
still differs from OpenRLHF is listed in the README (RPO section).

The reward is the task's feedback score of the parsed answer plus a format reward
(:mod:`ropg.reflection.rewards`). Rollouts use HF generation (CPU or GPU) or, with
``use_vllm``, trl's vLLM integration (``vllm_mode: colocate``: vLLM shares the training GPU).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from ropg.errors import UserError
from ropg.reflection.curriculum import curriculum_plan, parse_curriculum
from ropg.reflection.parser import ParseSettings
from ropg.reflection.prompts import ReflectionFormat, chat_messages
from ropg.reflection.rewards import StepLog, reward_functions
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


def rl_rows(
    split: Any,
    generics: Mapping[str, str],
    rankings: Mapping[str, Sequence[int]],
    settings: Any,
    prompts_per_step: int,
) -> list[dict[str, Any]]:
    """The RL dataset in training order: one row per prompt visit, with its step's K items.

    Each row: ``prompt`` (chat messages), ``gold``, ``generic``, ``k`` (the curriculum's K),
    ``step`` and ``id``.
    """
    fmt = ReflectionFormat.from_settings(settings)
    examples = [e for e in split if e.gold is not None]
    if not examples:
        raise UserError(f"{split.task.name} {split.split}: RL needs gold outputs")
    missing = [e.id for e in examples if e.id not in generics or e.id not in rankings]
    if missing:
        raise UserError(f"no g or ranking for {len(missing)} RL input(s), e.g. {missing[0]!r}")
    curriculum = parse_curriculum(settings.curriculum)
    depth = min(len(rankings[e.id]) for e in examples)
    if depth < max(curriculum) and any(len(e.profile) > depth for e in examples):
        logger.warning("rankings hold %d items; the curriculum asks for %d", depth, max(curriculum))
    plan = curriculum_plan(
        len(examples), settings.epochs, prompts_per_step, curriculum, settings.seed
    )
    rows = []
    for step, index, k in plan:
        example = examples[index]
        items = [example.profile[i] for i in list(rankings[example.id])[:k]]
        prompt = fmt.prompt(split.task, example.input, generics[example.id], items)
        rows.append(
            {
                "prompt": chat_messages(prompt, settings.system_prompt),
                "gold": str(example.gold),
                "generic": generics[example.id],
                "k": k,
                "step": step,
                "id": example.id,
            }
        )
    return rows


def rl_accumulation(settings: Any, processes: int) -> int:
    """Gradient accumulation for ``prompts_per_step`` x ``num_generations`` completions."""
    completions = settings.prompts_per_step * settings.num_generations
    if completions % (settings.per_device_batch_size * processes):
        raise UserError(
            f"prompts_per_step x num_generations = {completions} completions per step is not a "
            f"multiple of per_device_batch_size {settings.per_device_batch_size} x {processes} "
            "process(es)"
        )
    return completions // (settings.per_device_batch_size * processes)


def train_rl(
    settings: Any,
    split: Any = None,
    generics: Mapping[str, str] | None = None,
    rankings: Mapping[str, Sequence[int]] | None = None,
) -> dict[str, Any]:
    """Train the reflection model by RL from the SFT model; return the facts (JSON-able).

    Args:
        settings: :class:`~ropg.reflection.train_config.RpoRlSettings`.
        split: the training split (default: loaded from the settings).
        generics, rankings: g and ``{qid: [profile indices]}`` of the split (default: the
            trajectories stage's files, ``OUTPUT_DIR/train/{generic.jsonl,rankings.json}``).

    Returns:
        the SFT stage's facts plus ``"curriculum"`` (K per step) and ``"steps_log"``.
    """
    from accelerate import PartialState
    from datasets import Dataset
    from trl import RLOOConfig, RLOOTrainer

    from ropg.reflection.contexts import load_rankings
    from ropg.reflection.generic import read_generic
    from ropg.reflection.pipeline import load_configured_split

    state = PartialState()
    stage_dir = settings.run_dir / "rl"
    resume = resume_checkpoint(settings, stage_dir, "rl", state.is_main_process)
    split = split if split is not None else load_configured_split(settings)
    train_dir = settings.run_dir / "train"
    if generics is None:
        generics = read_generic(settings.generic_file or train_dir / "generic.jsonl")
    if rankings is None:
        rankings = load_rankings(settings.rankings or train_dir / "rankings.json")
    rows = rl_rows(split, generics, rankings, settings, settings.prompts_per_step)
    start = settings.model or str(settings.run_dir / "sft")
    model, tokenizer, is_adapter = start_model(start, settings.lora, settings.trust_remote_code)
    use_lora = is_adapter or wants_lora(
        settings.lora, model_path(start), settings.trust_remote_code
    )
    peft_config = lora_config(settings) if use_lora and not is_adapter else None
    arguments = trainer_arguments(
        settings, stage_dir, rl_accumulation(settings, state.num_processes)
    )
    arguments["num_train_epochs"] = 1  # the epochs are laid out in the dataset
    arguments = RLOOConfig(
        **arguments,
        num_generations=settings.num_generations,
        max_completion_length=settings.max_completion_length,
        temperature=settings.temperature,
        top_p=settings.top_p,
        beta=settings.beta,
        normalize_advantages=settings.normalize_advantages,
        shuffle_dataset=False,
        num_iterations=1,
        reward_weights=[1.0, settings.format_reward_weight],
        remove_unused_columns=False,
        use_vllm=settings.use_vllm,
        vllm_mode=settings.vllm_mode,
        vllm_gpu_memory_utilization=settings.vllm_gpu_memory_utilization,
        vllm_tensor_parallel_size=settings.vllm_tensor_parallel_size,
    )
    if state.is_main_process:
        stage_dir.mkdir(parents=True, exist_ok=True)
        settings.save(stage_dir / config_file("rl"))
    step_log = StepLog(stage_dir / "steps.jsonl", state.is_main_process)
    if resume is None and step_log.path is not None:
        step_log.path.unlink(missing_ok=True)
    parse = ParseSettings.from_settings(settings)
    trainer = RLOOTrainer(
        model=model,
        reward_funcs=reward_functions(split.task, parse, settings.malformed_task_reward, step_log),
        args=arguments,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=peft_config,
        callbacks=[stop_after_steps(settings.stop_after_steps)],
    )
    result = logs_to_logging(trainer).train(resume_from_checkpoint=resume)
    extra = {
        "curriculum": [rows[i]["k"] for i in range(0, len(rows), settings.prompts_per_step)],
        "steps_log": str(step_log.path),
    }
    return finish_stage(
        trainer, tokenizer, settings, stage_dir, "rl", use_lora, len(rows), result, extra
    )
