"""``RopgTrainConfig``: every setting of a ROPG-KD / ROPG-RL run, as data.

Built from defaults, then a YAML file (``--config``), then ``--key value`` flags; the resolved
config is saved as ``train_config.yaml`` in the output directory, and that file is itself a
valid ``--config`` to repeat the run. Defaults follow the paper / reference code (LAMP_SPEC
section 6): Contriever, mean pooling, dot product, 512 tokens, Adam lr 1e-5, 5% linear warmup,
clip 1.0, temperature 1.0, effective batch 64, 10 epochs, 16 candidates, dates in documents.
The shared settings (data files, optimization, output) and the YAML/flag machinery live in
:class:`~ropg.training.run_config.TrainRunConfig`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ropg.training.run_config import MIXED_PRECISION, RUNTIME_FIELDS, TrainRunConfig
from ropg.utils.config import coerce, positive, read_yaml

METHODS = ("kd", "rl")

__all__ = [
    "METHODS",
    "MIXED_PRECISION",
    "RUNTIME_FIELDS",
    "RopgTrainConfig",
    "coerce",
    "read_yaml",
]


def _help(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass
class RopgTrainConfig(TrainRunConfig):
    """Settings of one ``ropg-train`` run (each field's help text is its ``--flag`` help)."""

    method: str = field(default="", metadata=_help("kd (knowledge distillation) or rl (REINFORCE)"))
    # -- data -------------------------------------------------------------------------------
    data: str | None = field(default=None, metadata=_help("LaMP data directory (either layout)"))
    layout: str = field(default="auto", metadata=_help("data layout: auto, time, user or flat"))
    train_split: str = field(default="train", metadata=_help("split the train feedback is for"))
    dev_split: str = field(default="dev", metadata=_help("split the dev feedback is for"))
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
    tokens_per_forward: int = field(
        default=16384,
        metadata=_help("padded tokens per encoder forward (texts packed longest first)"),
    )
    # -- methods ----------------------------------------------------------------------------
    temperature: float = field(default=1.0, metadata=_help("softmax temperature T"))
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

    def checks(self) -> list[tuple[bool, str]]:
        from ropg.retrievers.encoder import POOLINGS
        from ropg.training.losses.rl import BASELINES

        checks = [(self.method in METHODS, f"method must be one of {METHODS}, got {self.method!r}")]
        checks += super().checks()
        checks += [
            (bool(self.model), "model is required"),
            (self.pooling in POOLINGS, f"pooling must be one of {POOLINGS}"),
            (self.rl_baseline in BASELINES, f"rl_baseline must be one of {BASELINES}"),
            (self.temperature > 0, "temperature must be > 0"),
            (
                self.rl_baseline != "leave_one_out" or self.rl_samples >= 2,
                "rl_baseline leave_one_out needs rl_samples >= 2",
            ),
        ]
        names = ("candidates", "max_length", "rl_samples", "eval_k", "tokens_per_forward")
        return checks + positive(self, names)

    @property
    def similarity(self) -> str:
        return "cosine" if self.normalize else "dot"
