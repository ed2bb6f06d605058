"""``TrainRunConfig``: the settings every ropg trainer shares (data, model, optimization, output).

ROPG (:class:`~ropg.training.config.RopgTrainConfig`) and RSPG
(:class:`~ropg.selection.config.SelectorConfig`) extend it with their own fields; the generic
epoch loop (:mod:`ropg.training.loop`) reads only these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from ropg.utils.config import ConfigBase, field_help, positive

MIXED_PRECISION = ("auto", "no", "bf16", "fp16")
ADAPTERS = ("none", "lora")
# settings that may change between a run and its resumption (they do not change the result)
RUNTIME_FIELDS = frozenset(
    {
        "resume",
        "overwrite",
        "stop_after_epoch",
        "log_every",
        "keep_checkpoints",
        "tokens_per_forward",
        "gradient_checkpointing",
    }
)


@dataclass
class TrainRunConfig(ConfigBase):
    """Settings shared by the trainers (each field's help text is its ``--flag`` help)."""

    RUNTIME_FIELDS: ClassVar[frozenset[str]] = RUNTIME_FIELDS
    SAVE_RESET: ClassVar[dict[str, Any]] = {"resume": None, "overwrite": False}

    # -- data -------------------------------------------------------------------------------
    task: str = field(default="", metadata=field_help("LaMP task, e.g. LaMP-3"))
    train_feedback: list[str] = field(
        default_factory=list,
        metadata=field_help("ropg-feedback file(s) of the train split (records merged)"),
    )
    dev_feedback: list[str] = field(
        default_factory=list,
        metadata=field_help("feedback file(s) of the dev split: per-epoch dev figures"),
    )
    limit_train: int | None = field(
        default=None, metadata=field_help("first N train examples only")
    )
    limit_dev: int | None = field(default=None, metadata=field_help("first N dev examples only"))
    trust_remote_code: bool = field(default=False, metadata=field_help("passed to from_pretrained"))
    # -- model (subclasses give ``model`` and ``max_length`` their defaults) -----------------
    model: str = field(default="", metadata=field_help("initial encoder: Hub id or directory"))
    max_length: int = field(default=512, metadata=field_help("truncation length in tokens"))
    tokens_per_forward: int = field(
        default=16384,
        metadata=field_help("padded tokens per encoder forward (texts packed longest first)"),
    )
    adapter: str = field(
        default="none",
        metadata=field_help(
            "none: fine-tune every weight (the paper); lora: train LoRA adapters (peft) and "
            "save only them, a few hundred KB that load on top of the base model"
        ),
    )
    lora_rank: int = field(default=8, metadata=field_help("LoRA rank r (adapter: lora)"))
    lora_alpha: int = field(default=16, metadata=field_help("LoRA scaling alpha"))
    lora_dropout: float = field(default=0.0, metadata=field_help("dropout on the LoRA path"))
    lora_targets: list[str] = field(
        default_factory=list,
        metadata=field_help(
            "module names LoRA wraps (default: peft's choice for the architecture)",
            metavar="NAME",
        ),
    )
    # -- optimization -----------------------------------------------------------------------
    lr: float = field(default=1e-5, metadata=field_help("Adam learning rate"))
    weight_decay: float = field(default=0.0, metadata=field_help("Adam weight decay (L2)"))
    warmup_ratio: float = field(
        default=0.05, metadata=field_help("share of steps of linear warmup")
    )
    max_grad_norm: float = field(
        default=1.0, metadata=field_help("gradient clipping norm (0: off)")
    )
    effective_batch_size: int = field(
        default=64, metadata=field_help("examples per optimizer step (all processes, accumulated)")
    )
    per_device_batch_size: int = field(default=8, metadata=field_help("examples per forward pass"))
    epochs: int = field(default=10, metadata=field_help("training epochs"))
    mixed_precision: str = field(
        default="auto",
        metadata=field_help("auto (bf16 on a GPU that has it, else no), no, bf16, fp16"),
    )
    seed: int = field(default=0, metadata=field_help("random seed (data order, dropout, draws)"))
    eval_before_training: bool = field(
        default=True, metadata=field_help("dev figures of the initial model too")
    )
    temperature: float = field(default=1.0, metadata=field_help("softmax temperature T"))
    # -- output and running -----------------------------------------------------------------
    output_dir: str = field(default="", metadata=field_help("where the trained model is written"))
    resume: str | None = field(
        default=None,
        metadata=field_help(
            "continue from 'latest' or a checkpoint directory", const="latest", metavar="CHECKPOINT"
        ),
    )
    overwrite: bool = field(default=False, metadata=field_help("start over in a used output_dir"))
    stop_after_epoch: int | None = field(
        default=None, metadata=field_help("stop (resumably) after this epoch")
    )
    keep_checkpoints: int = field(default=2, metadata=field_help("epoch checkpoints kept (0: all)"))
    gradient_checkpointing: bool = field(default=False, metadata=field_help("save GPU memory"))
    log_every: int = field(default=10, metadata=field_help("log every N optimizer steps"))

    def checks(self) -> list[tuple[bool, str]]:
        """The shared checks; subclasses add theirs to this list."""
        checks = [
            (bool(self.task), "task is required (e.g. task: LaMP-3)"),
            (bool(self.train_feedback), "train_feedback is required (a ropg-feedback file)"),
            (bool(self.output_dir), "output_dir is required"),
            (bool(self.model), "model is required"),
            (self.mixed_precision in MIXED_PRECISION, f"mixed_precision: one of {MIXED_PRECISION}"),
            (self.lr > 0, "lr must be > 0"),
            (0 <= self.warmup_ratio < 1, "warmup_ratio must be in [0, 1)"),
            (self.max_grad_norm >= 0, "max_grad_norm must be >= 0"),
            (self.weight_decay >= 0, "weight_decay must be >= 0"),
            (self.keep_checkpoints >= 0, "keep_checkpoints must be >= 0"),
            (self.temperature > 0, "temperature must be > 0"),
            (self.adapter in ADAPTERS, f"adapter: one of {ADAPTERS}"),
            (0 <= self.lora_dropout < 1, "lora_dropout must be in [0, 1)"),
        ]
        names = ("effective_batch_size", "per_device_batch_size", "epochs", "log_every")
        names += ("max_length", "tokens_per_forward", "lora_rank", "lora_alpha")
        checks += positive(self, (*names, "limit_train", "limit_dev", "stop_after_epoch"))
        return checks
