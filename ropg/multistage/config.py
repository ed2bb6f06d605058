"""``MultistageConfig``: everything a multistage run does, as nested dataclass sections.

Load it from YAML (``benchmarks/configs/multistage.yaml``) with :meth:`MultistageConfig.load`;
``overrides`` change any setting by dotted path (``{"rank.max_chars": 1000}`` or the strings
``"rank.max_chars=1000"``, values read as YAML scalars). A YAML file may hold a
``cpu_overrides`` mapping of dotted paths; ``profile="cpu"`` applies it (the quick start's
settings). Unknown keys are an error naming the closest known one. Each stage keys its
artifacts by the sections it reads (:meth:`MultistageConfig.section_key`), so changing a
setting redoes exactly what depends on it.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ropg.errors import UserError
from ropg.utils.config import known_settings, parse_scalar, read_yaml
from ropg.utils.fingerprint import json_digest

FORMATS = ("auto", "documents", "longlamp", "lamp")
KEYWORD_SOURCES = ("profile", "ranked")
TRAIN_USERS = ("rest", "all")
DEFAULT_ROWS = [
    "ImmedCtx",
    "RankDocBM25",
    "RankDocBySnpt",
    "+SumCtxInd",
    "+SumCtx",
    "+SynCtx",
    "+AuthorPred",
]


def _help(text: str) -> dict[str, Any]:
    return {"help": text}


@dataclass
class DataSection:
    """Where the documents come from and the paper's passage-completion rules."""

    source: str = field(
        default="sample",
        metadata=_help(
            "'sample' (shipped), a documents .jsonl, a LongLaMP directory, a LaMP directory, or "
            "hf:NAME[:CONFIG]"
        ),
    )
    format: str = field(default="auto", metadata=_help("auto, documents, longlamp or lamp"))
    longlamp_subset: str = field(
        default="auto",
        metadata=_help(
            "product_review, topic_writing, abstract_generation (auto: from the source)"
        ),
    )
    lamp_task: str = field(default="LaMP-4", metadata=_help("LaMP-4/5/6/7 for format lamp"))
    lamp_splits: list[str] = field(
        default_factory=lambda: ["train", "dev"],
        metadata=_help("LaMP splits whose profiles are read"),
    )
    context_chars: int = field(default=150, metadata=_help("immediate context length (chars)"))
    context_cut: str = field(default="char", metadata=_help("char (exact) or word (at a space)"))
    min_document_chars: int = field(default=300, metadata=_help("targets are longer than this"))
    min_earlier_documents: int = field(
        default=2, metadata=_help("earlier documents a target needs")
    )
    min_examples_per_user: int = field(default=5, metadata=_help("users need this many targets"))
    max_examples_per_user: int | None = field(default=50, metadata=_help("targets kept per user"))
    split_fractions: list[float] = field(
        default_factory=lambda: [0.85, 0.05, 0.10],
        metadata=_help("train/dev/test shares of the users"),
    )
    seed: int = field(default=0, metadata=_help("seed of the user split and per-user choice"))


@dataclass
class RankSection:
    """Retrievers of the pool and the ranked context."""

    lexical: dict[str, Any] = field(
        default_factory=lambda: {"retriever": "bm25", "options": {}},
        metadata=_help("the lexical retriever (RankDocBM25)"),
    )
    dense: dict[str, Any] = field(
        default_factory=lambda: {"retriever": "dense", "options": {"model": "minilm"}},
        metadata=_help("the dense retriever (RankDocDense, RankSnippet, RankDocBySnpt)"),
    )
    base: str = field(
        default="RankDocBySnpt",
        metadata=_help("the ranking of the +Sum/+Syn/+AuthorPred rows and of the stage models"),
    )
    snippet_chars: int = field(default=250, metadata=_help("a snippet's maximum length"))
    max_chars: int = field(default=2500, metadata=_help("the ranked entries are cut here"))
    separator: str = field(default=" ", metadata=_help("between concatenated entries"))
    chunk: int = field(default=256, metadata=_help("queries ranked per resumable chunk"))


@dataclass
class SummarySection:
    """Summaries: the context-independent generator and the weak labels' encoder."""

    generator: str = field(
        default="hf:google/flan-t5-xxl",
        metadata=_help("generator spec of the context-independent summarizer"),
    )
    options: dict[str, Any] = field(default_factory=dict, metadata=_help("its backend options"))
    generation: dict[str, Any] = field(
        default_factory=lambda: {
            "max_new_tokens": 128,
            "num_beams": 4,
            "batch_size": 8,
            "max_input_length": 1024,
        },
        metadata=_help("its decoding settings"),
    )
    prompt: str = field(default="summarize: {past_passages}", metadata=_help("its prompt"))
    encoder: str = field(
        default="minilm",
        metadata=_help("dense encoder of the weak labels (directory, Hub id or alias)"),
    )
    stage_share: float = field(
        default=0.5,
        metadata=_help(
            "share of the training users whose examples train the summarizer and keyword model"
        ),
    )


@dataclass
class KeywordSection:
    """Keywords (synthesis): the paper's rules and the weak labels' word matching."""

    source: str = field(
        default="profile",
        metadata=_help(
            "context-independent keywords of the whole profile or of the ranked entries"
        ),
    )
    min_frequency: int = field(default=2, metadata=_help("drop words seen fewer times"))
    min_idf: float = field(default=1.5, metadata=_help("drop words of lower IDF"))
    max_words: int = field(default=20, metadata=_help("at most this many words"))
    stopwords_path: str | None = field(default=None, metadata=_help("a stopword file"))
    synonyms: str = field(
        default="auto", metadata=_help("auto (WordNet if installed), wordnet, none")
    )
    embedding_threshold: float | None = field(
        default=0.75,
        metadata=_help("word vectors' cosine from which words match (None: no embedding match)"),
    )


@dataclass
class TrainSection:
    """The fine-tuned models (summarizer, keyword model, generators) and how they train."""

    model: str = field(
        default="google-t5/t5-11b",
        metadata=_help("base model: Hub id, directory or tiny-t5 (built on the fly)"),
    )
    stage_model: str | None = field(
        default=None, metadata=_help("base of the summarizer and keyword model (None: model)")
    )
    lr: float = 1e-3
    optimizer: str = "adafactor"
    scheduler: str = "inverse_sqrt"
    warmup_steps: int = 1000
    epochs: float = 1.0
    max_steps: int | None = None
    batch_size: int = 8
    gradient_accumulation: int = 1
    max_source_tokens: int = 1024
    max_target_tokens: int = 512
    mixed_precision: str = "auto"
    save_steps: int = 500
    save_total_limit: int = 2
    logging_steps: int = 50
    generator_users: str = field(
        default="rest", metadata=_help("rest (the users the stage models did not train on) or all")
    )
    tiny_d_model: int = field(default=64, metadata=_help("tiny-t5: model width"))
    tiny_layers: int = field(default=2, metadata=_help("tiny-t5: encoder and decoder layers"))
    tiny_heads: int = field(default=4, metadata=_help("tiny-t5: attention heads"))


@dataclass
class GenerationSection:
    """Decoding of the fine-tuned models (beam 4 in the paper)."""

    max_new_tokens: int = 256
    num_beams: int = 4
    batch_size: int = 8
    repetition_penalty: float = 1.0
    stage_max_new_tokens: int = field(default=128, metadata=_help("summaries and keywords"))


@dataclass
class AuthorSection:
    """Author distinction, mixed into the generator's training (+AuthorPred)."""

    ratio: float = field(default=1.0, metadata=_help("author pairs per generation example"))
    passage_chars: int = field(default=500, metadata=_help("each passage cut to this"))
    eval_pairs: int = field(default=200, metadata=_help("held-out pairs (test users) scored"))


@dataclass
class MultistageConfig:
    """A whole multistage run."""

    name: str = "multistage"
    work_dir: str = field(default="results/multistage", metadata=_help("artifacts and tables"))
    cache_dir: str | None = field(
        default=None,
        metadata=_help(
            "generation and embedding caches (None: WORK_DIR/cache; 'default': ~/.cache/ropg)"
        ),
    )
    seed: int = 0
    eval_split: str = "test"
    alpha: float = 0.05
    rows: list[str] = field(default_factory=lambda: list(DEFAULT_ROWS))
    data: DataSection = field(default_factory=DataSection)
    rank: RankSection = field(default_factory=RankSection)
    summary: SummarySection = field(default_factory=SummarySection)
    keywords: KeywordSection = field(default_factory=KeywordSection)
    train: TrainSection = field(default_factory=TrainSection)
    generation: GenerationSection = field(default_factory=GenerationSection)
    author: AuthorSection = field(default_factory=AuthorSection)

    RUNTIME = frozenset({"chunk", "batch_size", "logging_steps", "save_steps", "save_total_limit"})

    @classmethod
    def load(
        cls,
        path: str | Path | None = None,
        overrides: Mapping[str, Any] | Sequence[str] | None = None,
        profile: str | None = None,
    ) -> MultistageConfig:
        """Defaults, then the YAML file, then its ``cpu_overrides`` (``profile="cpu"``), then
        ``overrides``."""
        values: dict[str, Any] = dict(read_yaml(path)) if path else {}
        cpu = values.pop("cpu_overrides", None) or {}
        if profile not in (None, "cpu"):
            raise UserError(f"unknown profile {profile!r}; use cpu")
        if profile == "cpu":
            if not cpu:
                raise UserError(f"{path}: no cpu_overrides section")
            apply_overrides(values, cpu)
        apply_overrides(values, parse_overrides(overrides))
        config = from_mapping(cls, values, "multistage")
        config.validate()
        return config

    def validate(self) -> None:
        from ropg.multistage.ranking import get_strategy
        from ropg.multistage.rows import get_row

        checks = [
            (self.data.format in FORMATS, f"data.format: one of {FORMATS}"),
            (self.keywords.source in KEYWORD_SOURCES, f"keywords.source: one of {KEYWORD_SOURCES}"),
            (self.train.generator_users in TRAIN_USERS, f"train.generator_users: {TRAIN_USERS}"),
            (0 < self.summary.stage_share < 1, "summary.stage_share must be in (0, 1)"),
            (self.author.ratio >= 0, "author.ratio must be >= 0"),
            (self.eval_split in ("dev", "test"), "eval_split: dev or test"),
            (self.rank.max_chars >= 0, "rank.max_chars must be >= 0"),
            (bool(self.rows), "rows: at least one"),
        ]
        for ok, message in checks:
            if not ok:
                raise UserError(f"multistage config: {message}")
        get_strategy(self.rank.base)
        for row in self.rows:
            get_row(row)
        for name in ("lexical", "dense"):
            if "retriever" not in getattr(self.rank, name):
                raise UserError(f"multistage config: rank.{name} needs a 'retriever'")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def section_key(self, *parts: Any) -> str:
        """A short digest of settings (sections or values), runtime fields left out."""
        return digest([strip_runtime(part, self.RUNTIME) for part in parts])

    @property
    def root(self) -> Path:
        return Path(self.work_dir)


def strip_runtime(value: Any, runtime: frozenset[str]) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, Mapping):
        return {k: strip_runtime(v, runtime) for k, v in value.items() if k not in runtime}
    return value


digest = json_digest  # the artifact keys of the workspace


def parse_overrides(overrides: Mapping[str, Any] | Sequence[str] | None) -> dict[str, Any]:
    """``["a.b=1", ...]`` or a mapping as ``{dotted path: value}``; string values are read as
    YAML scalars later, against the type of the setting (so a string setting keeps ``no``)."""
    if overrides is None:
        return {}
    if isinstance(overrides, Mapping):
        return {str(k): v for k, v in overrides.items()}
    result = {}
    for item in overrides:
        key, separator, value = str(item).partition("=")
        if not separator or not key.strip():
            raise UserError(f"an override is KEY=VALUE, got {item!r}")
        result[key.strip()] = value
    return result


def apply_overrides(values: dict[str, Any], overrides: Mapping[str, Any]) -> None:
    """Set each dotted path of ``overrides`` in the nested mapping ``values``."""
    for path, value in overrides.items():
        target = values
        *parents, last = str(path).replace("-", "_").split(".")
        for part in parents:
            child = target.get(part)
            if child is None:
                child = target[part] = {}
            if not isinstance(child, dict):
                raise UserError(f"override {path!r}: {part!r} is not a section")
            target = child
        target[last] = value


def from_mapping(cls: type, values: Any, where: str) -> Any:
    """Build the dataclass ``cls`` from a (nested) mapping, converting and checking types."""
    if values is None:
        values = {}
    if not isinstance(values, Mapping):
        raise UserError(f"{where}: expected a mapping, got {values!r}")
    hints = typing.get_type_hints(cls)
    known = known_settings(cls, values, where)
    converted = {
        name: _convert(value, hints[name], f"{where}.{name}") for name, value in known.items()
    }
    return cls(**converted)


def _convert(value: Any, annotation: Any, where: str) -> Any:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if dataclasses.is_dataclass(annotation):
        return from_mapping(annotation, value, where)
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        if value is None or (
            isinstance(value, str) and value.strip().lower() in ("", "none", "null")
        ):
            return None
        return _convert(value, next(a for a in args if a is not type(None)), where)
    if origin is dict:
        value = parse_scalar(value)
        if not isinstance(value, Mapping):
            raise UserError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if origin is list:
        items = parse_scalar(value)
        if isinstance(items, str):
            items = [part.strip() for part in items.split(",") if part.strip()]
        if not isinstance(items, (list, tuple)):
            items = [items]
        return [_convert(item, args[0] if args else str, f"{where}[]") for item in items]
    value = parse_scalar(value) if annotation is not str else value
    if annotation is bool and isinstance(value, bool):
        return value
    if annotation is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if annotation is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if annotation is str and isinstance(value, bool):
        raise UserError(f'{where}: expected a string, got {value!r} (quote YAML words: "no")')
    if annotation is str and not isinstance(value, (dict, list)):
        return str(value)
    raise UserError(
        f"{where}: expected {getattr(annotation, '__name__', annotation)}, got {value!r}"
    )
