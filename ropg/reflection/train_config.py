"""Settings of the two training stages: ``RpoSftSettings`` (``rpo-train --stage sft``) and
``RpoRlSettings`` (``rpo-train --stage rl``), loadable like every RPO config (see
:mod:`ropg.reflection.config`).

Defaults are the reported RPO settings where the paper gives them (SFT: 1 epoch, lr 5e-6, the
top-1 item; RL: 16 samples per prompt, KL to the SFT policy, a 2 -> 6 item curriculum, 1 epoch)
and documented choices where it is silent (README, RPO section).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from ropg.reflection.config import DataFields, FormatFields, RpoConfig
from ropg.utils.config import field_help, positive

LORA_MODES = ("auto", "true", "false")
MIXED_PRECISION = ("auto", "no", "bf16", "fp16")
MALFORMED_REWARDS = ("zero", "generic")
VLLM_MODES = ("colocate", "server")
# settings that may change between a run and its resumption (they do not change the result)
TRAIN_RUNTIME_FIELDS = frozenset(
    {
        "resume",
        "overwrite",
        "stop_after_steps",
        "logging_steps",
        "keep_checkpoints",
        "save_steps",
        "gradient_checkpointing",
        "per_device_batch_size",
    }
)


@dataclass
class TrainFields:
    """What every RPO training stage shares: the model, LoRA, optimization, checkpoints."""

    output_dir: str = field(default="", metadata=field_help("the RPO run directory"))
    model: str = field(default="", metadata=field_help("model to start from (Hub id or directory)"))
    trust_remote_code: bool = field(default=False, metadata=field_help("passed to from_pretrained"))
    lora: str = field(
        default="auto",
        metadata=field_help("LoRA adapters: auto (models above 1B params), true, false"),
    )
    lora_r: int = field(default=16, metadata=field_help("LoRA rank"))
    lora_alpha: int = field(default=32, metadata=field_help("LoRA alpha"))
    lora_dropout: float = field(default=0.05, metadata=field_help("LoRA dropout"))
    lora_target_modules: list[str] = field(
        default_factory=lambda: ["all-linear"],
        metadata=field_help("modules given adapters (peft names)", metavar="MODULE"),
    )
    save_merged: bool = field(
        default=True, metadata=field_help("with LoRA, also write the merged model (for hf:)")
    )
    lr: float = field(default=5e-6, metadata=field_help("AdamW learning rate"))
    weight_decay: float = field(default=0.0, metadata=field_help("AdamW weight decay"))
    warmup_ratio: float = field(default=0.0, metadata=field_help("share of steps of warmup"))
    lr_scheduler: str = field(default="linear", metadata=field_help("transformers scheduler name"))
    max_grad_norm: float = field(default=1.0, metadata=field_help("gradient clipping norm"))
    epochs: int = field(default=1, metadata=field_help("passes over the data"))
    per_device_batch_size: int = field(default=4, metadata=field_help("sequences per forward"))
    seed: int = field(default=0, metadata=field_help("random seed"))
    mixed_precision: str = field(
        default="auto",
        metadata=field_help("auto (bf16 on a GPU that has it, else no), no, bf16, fp16"),
    )
    gradient_checkpointing: bool = field(default=False, metadata=field_help("save GPU memory"))
    save_steps: int = field(default=50, metadata=field_help("checkpoint every N optimizer steps"))
    keep_checkpoints: int = field(default=2, metadata=field_help("checkpoints kept (0: all)"))
    logging_steps: int = field(default=10, metadata=field_help("log every N optimizer steps"))
    resume: str | None = field(
        default=None,
        metadata=field_help(
            "continue from 'latest' or a checkpoint directory", const="latest", metavar="CHECKPOINT"
        ),
    )
    overwrite: bool = field(default=False, metadata=field_help("start over in a used directory"))
    stop_after_steps: int | None = field(
        default=None, metadata=field_help("stop (resumably, with a checkpoint) after N steps")
    )

    def __post_init__(self) -> None:
        super().__post_init__()  # type: ignore[misc]
        self.lora = str(self.lora).strip().lower()  # YAML true/false arrive as booleans

    def train_checks(self) -> list[tuple[bool, str]]:
        checks = [
            (bool(self.output_dir), "output_dir is required"),
            (self.lora in LORA_MODES, f"lora must be one of {LORA_MODES}"),
            (self.mixed_precision in MIXED_PRECISION, f"mixed_precision: one of {MIXED_PRECISION}"),
            (self.lr > 0, "lr must be > 0"),
            (0 <= self.warmup_ratio < 1, "warmup_ratio must be in [0, 1)"),
            (self.weight_decay >= 0, "weight_decay must be >= 0"),
            (self.keep_checkpoints >= 0, "keep_checkpoints must be >= 0"),
            (0 <= self.lora_dropout < 1, "lora_dropout must be in [0, 1)"),
        ]
        names = ("epochs", "per_device_batch_size", "save_steps", "logging_steps", "lora_r")
        return checks + positive(self, (*names, "lora_alpha", "stop_after_steps"))

    @property
    def run_dir(self) -> Path:
        return Path(self.output_dir).expanduser()


@dataclass
class RpoSftSettings(FormatFields, TrainFields, RpoConfig):
    """SFT of the reflection model on the kept teacher trajectories (trl ``SFTTrainer``)."""

    SECTION: ClassVar[str] = "sft"
    RUNTIME_FIELDS: ClassVar[frozenset[str]] = TRAIN_RUNTIME_FIELDS
    SAVE_RESET: ClassVar[dict[str, object]] = {"resume": None, "overwrite": False}

    trajectories_file: str | None = field(
        default=None,
        metadata=field_help("trajectories JSONL (default: OUTPUT_DIR/train/trajectories.jsonl)"),
    )
    effective_batch_size: int = field(
        default=16, metadata=field_help("sequences per optimizer step (all processes)")
    )
    max_length: int = field(default=2048, metadata=field_help("tokens per training sequence"))

    def checks(self) -> list[tuple[bool, str]]:
        return [
            *self.train_checks(),
            *self.format_checks(),
            (bool(self.model), "model is required (the reflection model to start from)"),
            *positive(self, ("effective_batch_size", "max_length")),
        ]


@dataclass
class RpoRlSettings(FormatFields, TrainFields, DataFields, RpoConfig):
    """RL of the SFT reflection model (trl ``RLOOTrainer``) with the K-item curriculum."""

    SECTION: ClassVar[str] = "rl"
    RUNTIME_FIELDS: ClassVar[frozenset[str]] = TRAIN_RUNTIME_FIELDS | {
        "vllm_gpu_memory_utilization"
    }
    SAVE_RESET: ClassVar[dict[str, object]] = {"resume": None, "overwrite": False}

    split: str = field(default="train", metadata=field_help("the split trained on"))
    model: str = field(
        default="", metadata=field_help("the SFT model (default: OUTPUT_DIR/sft, adapter kept)")
    )
    lr: float = field(default=1e-6, metadata=field_help("AdamW learning rate"))
    generic_file: str | None = field(
        default=None,
        metadata=field_help("g of the split (default: OUTPUT_DIR/train/generic.jsonl)"),
    )
    rankings: str | None = field(
        default=None,
        metadata=field_help("rankings of the split (default: OUTPUT_DIR/train/rankings.json)"),
    )
    curriculum: list[str] = field(
        default_factory=lambda: ["2", "3", "4", "5", "6"],
        metadata=field_help(
            "items per prompt by stage of training (equal shares of the steps), or linear:A:B; "
            "one value is a fixed K",
            metavar="K",
        ),
    )
    num_generations: int = field(default=16, metadata=field_help("samples per prompt (group)"))
    prompts_per_step: int = field(
        default=8, metadata=field_help("prompts per optimizer step (all processes)")
    )
    per_device_batch_size: int = field(
        default=16, metadata=field_help("completions per forward pass")
    )
    beta: float = field(default=0.01, metadata=field_help("KL weight (to the SFT policy)"))
    normalize_advantages: bool = field(
        default=True, metadata=field_help("whiten advantages over the batch (REINFORCE++)")
    )
    temperature: float = field(default=1.0, metadata=field_help("sampling temperature"))
    top_p: float = field(default=1.0, metadata=field_help("nucleus sampling"))
    max_completion_length: int = field(default=256, metadata=field_help("tokens per sample"))
    format_reward_weight: float = field(
        default=0.1,
        metadata=field_help("weight of the format reward (well-formed, with reasoning)"),
    )
    malformed_task_reward: str = field(
        default="zero",
        metadata=field_help("task reward of a malformed sample: zero or generic (g's)"),
    )
    use_vllm: bool = field(default=False, metadata=field_help("vLLM rollouts (trl, GPU only)"))
    vllm_mode: str = field(default="colocate", metadata=field_help("colocate or server"))
    vllm_gpu_memory_utilization: float = field(
        default=0.3, metadata=field_help("GPU memory share of colocated vLLM")
    )
    vllm_tensor_parallel_size: int = field(default=1, metadata=field_help("vLLM tensor parallel"))

    def checks(self) -> list[tuple[bool, str]]:
        from ropg.reflection.curriculum import parse_curriculum

        parse_curriculum(self.curriculum)  # raises a UserError naming the bad entry
        return [
            *self.train_checks(),
            *self.format_checks(),
            (bool(self.task), "task is required (e.g. task: LaMP-2)"),
            (bool(self.data or self.questions), "give data (a directory or 'sample') or questions"),
            (self.num_generations >= 2, "num_generations must be >= 2 (a group baseline)"),
            (self.beta >= 0, "beta must be >= 0"),
            (self.temperature > 0, "temperature must be > 0"),
            (0 < self.top_p <= 1, "top_p must be in (0, 1]"),
            (self.malformed_task_reward in MALFORMED_REWARDS, f"one of {MALFORMED_REWARDS}"),
            (self.vllm_mode in VLLM_MODES, f"vllm_mode must be one of {VLLM_MODES}"),
            (self.format_reward_weight >= 0, "format_reward_weight must be >= 0"),
            *positive(self, ("prompts_per_step", "max_completion_length", "limit")),
        ]
