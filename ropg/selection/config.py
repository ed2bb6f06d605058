"""``SelectorConfig``: every setting of an RSPG-Pre / RSPG-Post run, as data.

Defaults, then a YAML file (``--config``), then ``--key value`` flags (shared machinery:
:class:`~ropg.training.run_config.TrainRunConfig`); saved as ``train_config.yaml`` next to the
trained selector. Defaults follow the paper (section 6.1): Longformer-base with global
attention on the first token, Adam lr 1e-5, 5% linear warmup, clip 1.0, effective batch 64,
20 epochs, temperature 1.0, inputs up to 1024 tokens (the reference script's default is 512).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from ropg.training.run_config import RUNTIME_FIELDS, TrainRunConfig
from ropg.utils.config import positive

MODES = ("pre", "post")
POOLINGS = ("auto", "pooler", "cls", "mean")


def _help(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass
class SelectorConfig(TrainRunConfig):
    """Settings of one ``rspg-train`` run (each field's help text is its ``--flag`` help)."""

    RUNTIME_FIELDS: ClassVar[frozenset[str]] = RUNTIME_FIELDS | {"report", "sigma_x"}

    mode: str = field(default="", metadata=_help("pre (prompts only) or post (prompt + output)"))
    # -- data -------------------------------------------------------------------------------
    retrievers: list[str] = field(
        default_factory=list,
        metadata={
            "help": "the pool, in order, names or a comma list (default: the feedback file's)",
            "metavar": "NAME",
        },
    )
    # -- model ------------------------------------------------------------------------------
    model: str = field(
        default="allenai/longformer-base-4096",
        metadata=_help("initial encoder: Hub id or directory (any HF encoder)"),
    )
    max_length: int = field(default=1024, metadata=_help("input truncation length in tokens"))
    pooling: str = field(
        default="auto", metadata=_help("auto (pooler output if any, else first token), cls, mean")
    )
    global_attention: bool = field(
        default=True, metadata=_help("global attention on the first token (Longformer-style)")
    )
    lowercase: bool = field(default=True, metadata=_help("lowercase the prompts (reference)"))
    separator: str | None = field(
        default=None, metadata=_help("Post: text between prompt and output (tokenizer sep)")
    )
    keep_output: bool = field(
        default=True,
        metadata=_help("post: shorten long prompts so the output always fits (reference: not)"),
    )
    tokens_per_forward: int = field(
        default=16384, metadata=_help("padded tokens per encoder forward (packed longest first)")
    )
    # -- method -----------------------------------------------------------------------------
    epochs: int = field(default=20, metadata=_help("training epochs"))
    temperature: float = field(default=1.0, metadata=_help("softmax temperature T"))
    reference_compat: bool = field(
        default=False,
        metadata=_help("reference's temperature placement: log_softmax(scores)/T, no T on target"),
    )
    # -- analysis ---------------------------------------------------------------------------
    sigma_x: float = field(default=0.5, metadata=_help("x of the QPP sigma_x% baseline (0-1)"))
    report: bool = field(
        default=True,
        metadata=_help("write analysis.md/json and winning_rates.png on dev (or train) records"),
    )

    def __post_init__(self) -> None:
        names = [name.strip() for item in self.retrievers for name in item.split(",")]
        self.retrievers = [name for name in names if name]

    def checks(self) -> list[tuple[bool, str]]:
        checks = [(self.mode in MODES, f"mode must be one of {MODES}, got {self.mode!r}")]
        checks += super().checks()
        checks += [
            (bool(self.model), "model is required"),
            (self.pooling in POOLINGS, f"pooling must be one of {POOLINGS}"),
            (self.temperature > 0, "temperature must be > 0"),
            (0 < self.sigma_x <= 1, "sigma_x must be in (0, 1]"),
            (
                len(set(self.retrievers)) == len(self.retrievers),
                "retrievers must not repeat a name",
            ),
        ]
        return checks + positive(self, ("max_length", "tokens_per_forward"))
