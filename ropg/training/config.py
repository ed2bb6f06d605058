"""``RopgTrainConfig``: every setting of a ROPG-KD / ROPG-RL run, as data.

Built from defaults, then a YAML file (``--config``), then ``--key value`` flags; the resolved
config is saved as ``train_config.yaml`` in the output directory, and that file is itself a
valid ``--config`` to repeat the run. Defaults follow the paper / reference code (LAMP_SPEC
section 6): Contriever, mean pooling, dot product, 512 tokens, Adam lr 1e-5, 5% linear warmup,
clip 1.0, temperature 1.0, effective batch 64, 10 epochs, 16 candidates, dates in documents.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ropg.lamp.errors import LampError

METHODS = ("kd", "rl")
MIXED_PRECISION = ("auto", "no", "bf16", "fp16")
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


def _help(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass
class RopgTrainConfig:
    """Settings of one ``ropg-train`` run (each field's help text is its ``--flag`` help)."""

    method: str = field(default="", metadata=_help("kd (knowledge distillation) or rl (REINFORCE)"))
    # -- data -------------------------------------------------------------------------------
    data: str | None = field(default=None, metadata=_help("LaMP data directory (either layout)"))
    task: str = field(default="", metadata=_help("LaMP task, e.g. LaMP-3"))
    layout: str = field(default="auto", metadata=_help("data layout: auto, time, user or flat"))
    train_split: str = field(default="train", metadata=_help("split the train feedback is for"))
    dev_split: str = field(default="dev", metadata=_help("split the dev feedback is for"))
    train_feedback: list[str] = field(
        default_factory=list,
        metadata=_help("ropg-feedback 'candidates' file(s) of the train split (records merged)"),
    )
    dev_feedback: list[str] = field(
        default_factory=list,
        metadata=_help("candidates feedback file(s) of the dev split: per-epoch dev figures"),
    )
    limit_train: int | None = field(default=None, metadata=_help("first N train examples only"))
    limit_dev: int | None = field(default=None, metadata=_help("first N dev examples only"))
    candidates: int = field(
        default=16, metadata=_help("candidates per example, l (at most the feedback file's)")
    )
    use_date: bool = field(default=True, metadata=_help("append ' date: ...' to documents"))
    # -- model ------------------------------------------------------------------------------
    model: str = field(
        default="facebook/contriever", metadata=_help("initial encoder: Hub id or directory")
    )
    pooling: str = field(default="mean", metadata=_help("mean or cls pooling"))
    normalize: bool = field(default=False, metadata=_help("L2-normalize vectors (cosine)"))
    max_length: int = field(default=512, metadata=_help("truncation length in tokens"))
    trust_remote_code: bool = field(default=False, metadata=_help("passed to from_pretrained"))
    # -- optimization -----------------------------------------------------------------------
    lr: float = field(default=1e-5, metadata=_help("Adam learning rate"))
    weight_decay: float = field(default=0.0, metadata=_help("Adam weight decay (L2)"))
    warmup_ratio: float = field(default=0.05, metadata=_help("share of steps of linear warmup"))
    max_grad_norm: float = field(default=1.0, metadata=_help("gradient clipping norm (0: off)"))
    temperature: float = field(default=1.0, metadata=_help("softmax temperature T"))
    effective_batch_size: int = field(
        default=64, metadata=_help("examples per optimizer step (all processes, accumulated)")
    )
    per_device_batch_size: int = field(default=8, metadata=_help("examples per forward pass"))
    epochs: int = field(default=10, metadata=_help("training epochs"))
    mixed_precision: str = field(
        default="auto", metadata=_help("auto (bf16 on a GPU that has it, else no), no, bf16, fp16")
    )
    seed: int = field(default=0, metadata=_help("random seed (data order, dropout, RL draws)"))
    # -- methods ----------------------------------------------------------------------------
    rl_samples: int = field(default=1, metadata=_help("RL: candidates drawn per example"))
    rl_baseline: str = field(
        default="auto",
        metadata=_help("RL: initial (paper), leave_one_out, none; auto = initial for 1 sample"),
    )
    reference_compat: bool = field(
        default=False,
        metadata=_help("reproduce the reference code: KD double softmax, '' padding candidates"),
    )
    # -- evaluation -------------------------------------------------------------------------
    eval_k: int = field(default=4, metadata=_help("k of the dev top-k figure"))
    eval_before_training: bool = field(
        default=True, metadata=_help("dev figures of the initial model too")
    )
    # -- output and running -----------------------------------------------------------------
    output_dir: str = field(default="", metadata=_help("where the trained encoder is written"))
    resume: str | None = field(
        default=None, metadata=_help("continue from 'latest' or a checkpoint directory")
    )
    overwrite: bool = field(default=False, metadata=_help("start over in a used output_dir"))
    stop_after_epoch: int | None = field(
        default=None, metadata=_help("stop (resumably) after this epoch")
    )
    keep_checkpoints: int = field(default=2, metadata=_help("epoch checkpoints kept (0: all)"))
    tokens_per_forward: int = field(
        default=16384,
        metadata=_help("padded tokens per encoder forward (texts packed longest first)"),
    )
    gradient_checkpointing: bool = field(default=False, metadata=_help("save GPU memory"))
    log_every: int = field(default=10, metadata=_help("log every N optimizer steps"))

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> RopgTrainConfig:
        """Build from a mapping (YAML or flags); unknown keys and bad values are LampErrors."""
        hints = typing.get_type_hints(cls)
        known = {f.name for f in dataclasses.fields(cls)}
        converted: dict[str, Any] = {}
        for key, value in values.items():
            name = str(key).replace("-", "_")
            if name not in known:
                close = difflib.get_close_matches(name, sorted(known), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise LampError(f"unknown training setting {key!r}{hint}")
            converted[name] = coerce(name, value, hints[name])
        config = cls(**converted)
        config.validate()
        return config

    @classmethod
    def load(
        cls, path: str | os.PathLike[str] | None = None, overrides: Mapping[str, Any] | None = None
    ) -> RopgTrainConfig:
        """Defaults, then the YAML file at ``path``, then ``overrides``."""
        values: dict[str, Any] = dict(read_yaml(path)) if path else {}
        values.update({str(k).replace("-", "_"): v for k, v in (overrides or {}).items()})
        return cls.from_dict(values)

    def validate(self) -> None:
        """Raise a LampError naming the first bad setting."""
        from ropg.retrievers.encoder import POOLINGS
        from ropg.training.losses.rl import BASELINES

        checks = [
            (self.method in METHODS, f"method must be one of {METHODS}, got {self.method!r}"),
            (bool(self.task), "task is required (e.g. task: LaMP-3)"),
            (bool(self.train_feedback), "train_feedback is required (a ropg-feedback file)"),
            (bool(self.output_dir), "output_dir is required"),
            (bool(self.model), "model is required"),
            (self.pooling in POOLINGS, f"pooling must be one of {POOLINGS}"),
            (self.mixed_precision in MIXED_PRECISION, f"mixed_precision: one of {MIXED_PRECISION}"),
            (self.rl_baseline in BASELINES, f"rl_baseline must be one of {BASELINES}"),
            (self.temperature > 0, "temperature must be > 0"),
            (self.lr > 0, "lr must be > 0"),
            (0 <= self.warmup_ratio < 1, "warmup_ratio must be in [0, 1)"),
            (self.max_grad_norm >= 0, "max_grad_norm must be >= 0"),
            (self.weight_decay >= 0, "weight_decay must be >= 0"),
        ]
        for name in (
            "candidates",
            "max_length",
            "effective_batch_size",
            "per_device_batch_size",
            "epochs",
            "rl_samples",
            "eval_k",
            "tokens_per_forward",
            "log_every",
        ):
            checks.append((getattr(self, name) >= 1, f"{name} must be >= 1"))
        for name in ("limit_train", "limit_dev", "stop_after_epoch"):
            value = getattr(self, name)
            checks.append((value is None or value >= 1, f"{name} must be >= 1"))
        checks.append((self.keep_checkpoints >= 0, "keep_checkpoints must be >= 0"))
        checks.append(
            (
                self.rl_baseline != "leave_one_out" or self.rl_samples >= 2,
                "rl_baseline leave_one_out needs rl_samples >= 2",
            )
        )
        for ok, message in checks:
            if not ok:
                raise LampError(f"training config: {message}")

    # -- output -----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def result_dict(self) -> dict[str, Any]:
        """The settings that decide the trained weights (runtime settings left out)."""
        return {k: v for k, v in self.to_dict().items() if k not in RUNTIME_FIELDS}

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the resolved config as YAML (atomically)."""
        import yaml

        from ropg.utils.io import atomic_open

        values = self.to_dict()
        values["resume"] = None
        values["overwrite"] = False
        with atomic_open(path) as stream:
            yaml.safe_dump(values, stream, sort_keys=False, allow_unicode=True)

    @property
    def similarity(self) -> str:
        return "cosine" if self.normalize else "dot"


def read_yaml(path: str | os.PathLike[str]) -> Mapping[str, Any]:
    """A YAML mapping from a file (LampError when missing, unreadable or not a mapping)."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LampError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise LampError(f"{path}: unreadable YAML config ({str(error).splitlines()[0]})") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise LampError(f"{path}: a config file must hold a mapping of settings")
    return data


def _parse_scalar(value: Any) -> Any:
    if isinstance(value, str):
        import yaml

        try:
            return yaml.safe_load(value) if value.strip() else value
        except yaml.YAMLError:
            return value
    return value


def coerce(name: str, value: Any, annotation: Any) -> Any:
    """Convert a YAML/flag value to the field's type (strings like ``"1e-5"`` are parsed)."""
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
            return None
        inner = next(arg for arg in args if arg is not type(None))
        return coerce(name, value, inner)
    if origin is list:
        items = value if isinstance(value, (list, tuple)) else [value]
        return [str(item) for item in items if item is not None and str(item) != ""]
    if annotation is bool:
        value = _parse_scalar(value)
        if isinstance(value, bool):
            return value
        raise LampError(f"training setting {name}: expected true or false, got {value!r}")
    if annotation in (int, float):
        parsed = _parse_scalar(value)
        try:
            if isinstance(parsed, bool):
                raise ValueError
            number = annotation(float(parsed)) if annotation is float else int(parsed)
            if annotation is int and isinstance(parsed, float) and parsed != int(parsed):
                raise ValueError
        except (TypeError, ValueError):
            kind = "an integer" if annotation is int else "a number"
            raise LampError(f"training setting {name}: expected {kind}, got {value!r}") from None
        return number
    if annotation is str:
        if isinstance(value, (dict, list)):
            raise LampError(f"training setting {name}: expected a string, got {value!r}")
        if name == "resume" and isinstance(_parse_scalar(value), bool):
            return "latest" if _parse_scalar(value) else None
        return str(value)
    return value
