"""The settings of a feedback job (``ropg-feedback candidates`` / ``pool``), as dataclasses.

The command builds its flags from these (:mod:`ropg.cli.config_flags`), so a job is also a
YAML file: ``ropg-feedback pool --config job.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from ropg.utils.config import ConfigBase, field_help, positive

LLM_SPECS = (
    "generator spec: hf:MODEL, vllm:MODEL, ct2:MODEL, openai:URL#MODEL, openai-chat:URL#MODEL"
)


@dataclass
class FeedbackJobConfig(ConfigBase):
    """What every feedback job needs: the split, the LLM endpoint and the output."""

    SECTION: ClassVar[str] = "feedback"

    task: str = field(default="", metadata=field_help("LaMP-1 .. LaMP-7, LaMP-2-old (or LaMP_k)"))
    data: str | None = field(
        default=None, metadata=field_help("LaMP data directory (time- or user-based layout)")
    )
    questions: str | None = field(
        default=None, metadata=field_help("a questions file (instead of finding it in --data)")
    )
    outputs: str | None = field(default=None, metadata=field_help("the outputs file (golds)"))
    split: str = field(default="train", metadata=field_help("train, dev or test"))
    layout: str = field(default="auto", metadata=field_help("data layout: auto, time, user, flat"))
    limit: int | None = field(default=None, metadata=field_help("only the first N examples"))
    llm: str = field(default="", metadata=field_help(LLM_SPECS))
    llm_options: dict[str, Any] = field(
        default_factory=dict,
        metadata=field_help("generator option, e.g. dtype=bf16", aliases=("--llm-option",)),
    )
    prompt_tokenizer: str | None = field(
        default=None,
        metadata=field_help("tokenizer for prompt budgets (default: the generator's own)"),
    )
    max_length: int = field(
        default=512, metadata=field_help("prompt budget and input cut, in tokens")
    )
    max_new_tokens: int = field(default=128, metadata=field_help("new tokens per output"))
    num_beams: int = field(default=4, metadata=field_help("beam width (1: greedy)"))
    batch_size: int = field(default=8, metadata=field_help("prompts per forward pass"))
    cache: str | None = field(
        default=None,
        metadata=field_help("generation cache file (default: $ROPG_CACHE_DIR or ~/.cache/ropg)"),
    )
    out: str = field(default="", metadata=field_help("output JSONL file"))
    chunk_size: int = field(
        default=16, metadata=field_help("examples per generation call / durable append")
    )
    shard: str | None = field(
        default=None,
        metadata=field_help(
            "INDEX/COUNT: every COUNT-th example from INDEX (default: accelerate's process)"
        ),
    )
    no_progress: bool = field(default=False, metadata=field_help("no progress bar"))

    def checks(self) -> list[tuple[bool, str]]:
        from ropg.lamp.data import LAYOUTS, SPLITS

        return [
            (bool(self.task), "give the task (--task)"),
            (bool(self.llm), "give the LLM (--llm)"),
            (bool(self.out), "give the output file (--out)"),
            (bool(self.data or self.questions), "give --data or --questions"),
            (self.split in SPLITS, f"split must be one of {SPLITS}"),
            (self.layout in LAYOUTS, f"layout must be one of {LAYOUTS}"),
            *positive(
                self,
                ("limit", "max_length", "max_new_tokens", "num_beams", "batch_size", "chunk_size"),
            ),  # fmt: skip
        ]

    def endpoint_settings(self) -> dict[str, Any]:
        """The :class:`~ropg.generation.endpoint.EndpointConfig` fields of the LLM."""
        return {
            "spec": self.llm,
            "options": dict(self.llm_options),
            "generation": {
                "max_new_tokens": self.max_new_tokens,
                "num_beams": self.num_beams,
                "batch_size": self.batch_size,
            },
            "max_length": self.max_length,
            "prompt_tokenizer": self.prompt_tokenizer,
            "cache": self.cache,
        }


@dataclass
class CandidatesConfig(FeedbackJobConfig):
    """ROPG: the initial ranking's first ``candidates`` items, each alone in a prompt."""

    retriever: str = field(default="contriever", metadata=field_help("the initial retriever"))
    retriever_options: dict[str, Any] = field(
        default_factory=dict,
        metadata=field_help(
            "retriever option, e.g. batch_size=64", aliases=("--retriever-option",)
        ),
    )
    candidates: int = field(default=16, metadata=field_help("l: candidates per input"))
    no_date: bool = field(
        default=False, metadata=field_help("documents without ' date: ...' (default: with)")
    )
    store_prompts: bool = field(default=False, metadata=field_help("keep each prompt"))
    signal: str = field(
        default="generate",
        metadata=field_help(
            "generate: score the LLM's output (the paper); likelihood: log p(gold | prompt)"
        ),
    )

    def checks(self) -> list[tuple[bool, str]]:
        from ropg.feedback.collect import SIGNALS

        return [
            *super().checks(),
            (self.candidates >= 1, "candidates must be >= 1"),
            (self.signal in SIGNALS, f"signal must be one of {sorted(SIGNALS)}"),
        ]


@dataclass
class PoolConfig(FeedbackJobConfig):
    """RSPG: every pool retriever's ``k``-item prompt."""

    retrievers: str = field(
        default="none,recency,bm25,contriever",
        metadata=field_help("comma-separated pool"),
    )
    retriever_options: dict[str, Any] = field(
        default_factory=dict,
        metadata=field_help(
            "option of one pool member, e.g. contriever.batch_size=64",
            aliases=("--retriever-option",), metavar="NAME.KEY=VALUE",
        ),
    )  # fmt: skip
    k: int = field(default=4, metadata=field_help("items per prompt"))
    use_date: bool = field(default=False, metadata=field_help("documents with ' date: ...'"))

    def checks(self) -> list[tuple[bool, str]]:
        names = [name.strip() for name in self.retrievers.split(",") if name.strip()]
        return [*super().checks(), (bool(names), "--retrievers names no retriever"),
                (self.k >= 1, "k must be >= 1")]  # fmt: skip
