"""``SelectorConfig``: every setting of an RSPG-Pre / RSPG-Post run, as data.

Defaults, then a YAML file (``--config``), then ``--key value`` flags (shared machinery:
:class:`~ropg.training.run_config.TrainRunConfig`); saved as ``train_config.yaml`` next to the
trained selector. Defaults follow the paper (section 6.1): Longformer-base, Adam lr 1e-5, 5%
linear warmup, clip 1.0, effective batch 64, 20 epochs, temperature 1.0, inputs up to 1024
tokens (the reference script's default is 512).

Global attention (``global_attention``): the reference gives its Longformer no global attention
mask, so every token, the pooled first one included, sees only its sliding window (256 tokens
each side for longformer-base). ropg's default (``auto``) puts global attention on the first
token, the one whose representation is scored, as Longformer does for classification (Beltagy
et al., 2020; ``LongformerForSequenceClassification``), so that it reads the whole prompt and,
for Post, the LLM output at the end of a 1024-token input. ``auto`` is ``none`` (the
reference) under ``reference_compat``; ``first`` or ``none`` override both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from ropg.training.run_config import RUNTIME_FIELDS, TrainRunConfig
from ropg.utils.config import field_help

MODES = ("pre", "post")
POOLINGS = ("auto", "pooler", "cls", "mean")
GLOBAL_ATTENTION = ("auto", "first", "none")


@dataclass
class SelectorConfig(TrainRunConfig):
    """Settings of one ``rspg-train`` run (each field's help text is its ``--flag`` help)."""

    RUNTIME_FIELDS: ClassVar[frozenset[str]] = RUNTIME_FIELDS | {"report", "sigma_x"}

    mode: str = field(
        default="", metadata=field_help("pre (prompts only) or post (prompt + output)")
    )
    # -- data -------------------------------------------------------------------------------
    retrievers: list[str] = field(
        default_factory=list,
        metadata=field_help(
            "the pool, in order, names or a comma list (default: the feedback file's)",
            metavar="NAME",
        ),
    )
    # -- model ------------------------------------------------------------------------------
    model: str = field(
        default="allenai/longformer-base-4096",
        metadata=field_help("initial encoder: Hub id or directory (any HF encoder)"),
    )
    max_length: int = field(default=1024, metadata=field_help("input truncation length in tokens"))
    pooling: str = field(
        default="auto",
        metadata=field_help("auto (pooler output if any, else first token), cls, mean"),
    )
    global_attention: str = field(
        default="auto",
        metadata=field_help(
            "Longformer-style global attention: first (on the first token, the pooled one: it "
            "then reads the whole input), none (the reference: sliding window only); auto = "
            "first, none under reference_compat"
        ),
    )
    lowercase: bool = field(default=True, metadata=field_help("lowercase the prompts (reference)"))
    separator: str | None = field(
        default=None, metadata=field_help("Post: text between prompt and output (tokenizer sep)")
    )
    keep_output: bool = field(
        default=True,
        metadata=field_help(
            "post: shorten long prompts so the output always fits (reference: not)"
        ),
    )
    # -- method -----------------------------------------------------------------------------
    epochs: int = field(default=20, metadata=field_help("training epochs"))
    reference_compat: bool = field(
        default=False,
        metadata=field_help(
            "reference's temperature placement: log_softmax(scores)/T, no T on target; "
            "no global attention (global_attention: auto)"
        ),
    )
    # -- analysis ---------------------------------------------------------------------------
    sigma_x: float = field(default=0.5, metadata=field_help("x of the QPP sigma_x% baseline (0-1)"))
    report: bool = field(
        default=True,
        metadata=field_help(
            "write analysis.md/json and winning_rates.png on dev (or train) records"
        ),
    )

    def __post_init__(self) -> None:
        names = [name.strip() for item in self.retrievers for name in item.split(",")]
        self.retrievers = [name for name in names if name]
        # configs written when this was a bool (true: the first token)
        self.global_attention = {"true": "first", "false": "none"}.get(
            str(self.global_attention).lower(), str(self.global_attention)
        )

    @property
    def global_attention_mode(self) -> str:
        """``global_attention`` with ``auto`` resolved: ``first``, or ``none`` under
        ``reference_compat``."""
        if self.global_attention == "auto":
            return "none" if self.reference_compat else "first"
        return self.global_attention

    def checks(self) -> list[tuple[bool, str]]:
        checks = [(self.mode in MODES, f"mode must be one of {MODES}, got {self.mode!r}")]
        checks += super().checks()
        checks += [
            (self.pooling in POOLINGS, f"pooling must be one of {POOLINGS}"),
            (
                self.global_attention in GLOBAL_ATTENTION,
                f"global_attention must be one of {GLOBAL_ATTENTION}, "
                f"got {self.global_attention!r}",
            ),
            (0 < self.sigma_x <= 1, "sigma_x must be in (0, 1]"),
            (
                len(set(self.retrievers)) == len(self.retrievers),
                "retrievers must not repeat a name",
            ),
        ]
        return checks
