"""``RopgTrainConfig``: every setting of a ROPG-KD / ROPG-RL run, as data.

Built from defaults, then a YAML file (``--config``), then ``--key value`` flags; the resolved
config is saved as ``train_config.yaml`` in the output directory, and that file is itself a
valid ``--config`` to repeat the run. Defaults follow the paper / reference code
(docs/lamp-fidelity.md): Contriever, mean pooling, dot product, 512 tokens, Adam lr 1e-5, 5%
linear warmup, clip 1.0, temperature 1.0, effective batch 64, 10 epochs, 16 candidates, dates
in documents.
The shared settings (data files, model, optimization, output) and the YAML/flag machinery live in
:class:`~ropg.training.run_config.TrainRunConfig`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ropg.training.run_config import TrainRunConfig
from ropg.utils.config import field_help, positive

METHODS = ("kd", "rl")

__all__ = ["METHODS", "RopgTrainConfig"]


@dataclass
class RopgTrainConfig(TrainRunConfig):
    """Settings of one ``ropg-train`` run (each field's help text is its ``--flag`` help)."""

    method: str = field(
        default="", metadata=field_help("kd (knowledge distillation) or rl (REINFORCE)")
    )
    # -- data -------------------------------------------------------------------------------
    data: str | None = field(
        default=None, metadata=field_help("LaMP data directory (either layout)")
    )
    layout: str = field(
        default="auto", metadata=field_help("data layout: auto, time, user or flat")
    )
    train_split: str = field(
        default="train", metadata=field_help("split the train feedback is for")
    )
    dev_split: str = field(default="dev", metadata=field_help("split the dev feedback is for"))
    candidates: int = field(
        default=16, metadata=field_help("candidates per example, l (at most the feedback file's)")
    )
    use_date: bool = field(default=True, metadata=field_help("append ' date: ...' to documents"))
    # -- model ------------------------------------------------------------------------------
    model: str = field(
        default="facebook/contriever", metadata=field_help("initial encoder: Hub id or directory")
    )
    pooling: str = field(default="mean", metadata=field_help("mean or cls pooling"))
    normalize: bool = field(default=False, metadata=field_help("L2-normalize vectors (cosine)"))
    # -- methods ----------------------------------------------------------------------------
    rl_samples: int = field(default=1, metadata=field_help("RL: candidates drawn per example"))
    rl_baseline: str = field(
        default="auto",
        metadata=field_help(
            "RL: initial (paper), leave_one_out, none; auto = initial for 1 sample"
        ),
    )
    reference_compat: bool = field(
        default=False,
        metadata=field_help(
            "reproduce the reference code: KD double softmax; short lists padded with '' "
            "candidates whose target keeps the reference's initial value (0; LaMP-3: the raw "
            "worst error), the RL reward of padding without baseline"
        ),
    )
    # -- evaluation -------------------------------------------------------------------------
    eval_k: int = field(default=4, metadata=field_help("k of the dev top-k figure"))

    def checks(self) -> list[tuple[bool, str]]:
        from ropg.retrievers.encoder import POOLINGS
        from ropg.training.losses.rl import BASELINES

        checks = [(self.method in METHODS, f"method must be one of {METHODS}, got {self.method!r}")]
        checks += super().checks()
        checks += [
            (self.pooling in POOLINGS, f"pooling must be one of {POOLINGS}"),
            (self.rl_baseline in BASELINES, f"rl_baseline must be one of {BASELINES}"),
            (
                self.rl_baseline != "leave_one_out" or self.rl_samples >= 2,
                "rl_baseline leave_one_out needs rl_samples >= 2",
            ),
        ]
        names = ("candidates", "rl_samples", "eval_k")
        return checks + positive(self, names)

    @property
    def similarity(self) -> str:
        return "cosine" if self.normalize else "dot"
