"""RPO settings as dataclass configs: ``ReflectConfig`` (``ropg-reflect``) and
``TrajectoryConfig`` (``rpo-train --stage trajectories``); the training stages' settings are in
:mod:`ropg.reflection.train_config`.

Every config is defaults, then a YAML file, then ``--key value`` flags. A YAML file is either
flat (the settings of one command) or sectioned: ``common:`` (applied to every stage that has
the setting), then ``trajectories:``, ``sft:``, ``rl:``, ``reflect:`` (one stage each), so one
file (``benchmarks/configs/rpo.yaml``) drives all four commands. Settings shared by several
commands are declared once, in the field groups below.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from ropg.errors import UserError
from ropg.utils.config import ConfigBase, coerce, field_help, known_settings, read_yaml

QUERY_KINDS = ("input", "generic", "input+generic")
SECTIONS = ("common", "trajectories", "sft", "rl", "reflect")
C = TypeVar("C", bound="RpoConfig")


def _mapping_field(default: Mapping[str, Any], text: str) -> Any:
    return field(default_factory=lambda: dict(default), metadata=field_help(text))


class RpoConfig(ConfigBase):
    """:class:`~ropg.utils.config.ConfigBase` with sectioned YAML files and mapping settings.

    ``SECTION`` names the stage's section of a sectioned YAML file. Mapping settings (backend
    options, decoding settings) are given on the command line as ``--key NAME=VALUE``,
    repeated (``--base-options dtype=bf16``).
    """

    SECTION: ClassVar[str] = ""

    def __post_init__(self) -> None:
        """Normalization hook of the field groups (they call ``super().__post_init__()``)."""

    @classmethod
    def from_dict(cls: type[C], values: Mapping[str, Any]) -> C:
        """Build from a mapping (flat, or sectioned with flat keys on top: what a sectioned
        ``--config`` file plus command-line flags give); unknown keys and bad values are
        :class:`UserError`\\ s."""
        values = stage_values(cls, values)
        hints = typing.get_type_hints(cls)
        fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        known = known_settings(cls, values, cls.SECTION or "rpo")
        converted = {
            name: coerce(name, value, hints[name], const=fields[name].metadata.get("const"))
            for name, value in known.items()
        }
        config = cls(**converted)
        config.validate()
        return config

    @classmethod
    def load(
        cls: type[C],
        path: str | os.PathLike[str] | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> C:
        """Defaults, then the YAML file (flat, or its ``common`` + own section), then overrides."""
        values = dict(read_yaml(path)) if path else {}
        values.update({str(k).replace("-", "_"): v for k, v in (overrides or {}).items()})
        return cls.from_dict(values)

    def validate(self) -> None:
        for ok, message in self.checks():
            if not ok:
                raise UserError(f"{self.SECTION or 'rpo'} config: {message}")


def stage_values(cls: type[RpoConfig], data: Mapping[str, Any]) -> dict[str, Any]:
    """The settings of ``cls``'s stage in a mapping: flat, or sectioned (``common`` settings
    the stage has, then its own section, then any flat keys, e.g. from command-line flags)."""
    if not any(key in SECTIONS for key in data):
        return dict(data)
    flat = {key: value for key, value in data.items() if key not in SECTIONS}
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    common = data.get("common") or {}
    if not isinstance(common, Mapping):
        raise UserError("the 'common' section of an RPO config must be a mapping")
    everywhere = set().union(*(stage_fields(name) for name in SECTIONS[1:]))
    stray = sorted(str(key) for key in common if str(key).replace("-", "_") not in everywhere)
    if stray:
        raise UserError(f"common settings known to no RPO stage: {stray}")
    values = {k: v for k, v in common.items() if str(k).replace("-", "_") in names}
    own = data.get(cls.SECTION) or {}
    if not isinstance(own, Mapping):
        raise UserError(f"the {cls.SECTION!r} section of an RPO config must be a mapping")
    values.update(own)
    values.update(flat)
    return values


def stage_fields(section: str) -> set[str]:
    """Field names of the config class of a stage section."""
    from ropg.reflection.train_config import RpoRlSettings, RpoSftSettings

    classes = {
        "trajectories": TrajectoryConfig,
        "sft": RpoSftSettings,
        "rl": RpoRlSettings,
        "reflect": ReflectConfig,
    }
    return {f.name for f in dataclasses.fields(classes[section])}


# -- field groups (each declared once, combined by the command configs) ----------------------
@dataclass
class DataFields:
    """Where one LaMP split is read from."""

    task: str = field(default="", metadata=field_help("LaMP task, e.g. LaMP-2"))
    data: str = field(
        default="",
        metadata=field_help("LaMP data directory, 'sample' (the shipped synthetic set) or hf:NAME"),
    )
    split: str = field(default="dev", metadata=field_help("train, dev or test"))
    layout: str = field(default="auto", metadata=field_help("auto, time, user or flat"))
    questions: str | None = field(default=None, metadata=field_help("a questions file"))
    outputs: str | None = field(default=None, metadata=field_help("its gold outputs file"))
    limit: int | None = field(default=None, metadata=field_help("first N examples only"))

    def data_checks(self) -> list[tuple[bool, str]]:
        return [
            (bool(self.task), "task is required (e.g. task: LaMP-2)"),
            (bool(self.data or self.questions), "give data (a directory or 'sample') or questions"),
            (self.limit is None or self.limit >= 1, "limit must be >= 1"),
        ]


@dataclass
class BaseModelFields:
    """The black-box base model that writes the generic answer g."""

    base_model: str = field(
        default="",
        metadata=field_help("generator spec of the base model (hf:, vllm:, openai-chat:)"),
    )
    base_options: dict[str, Any] = _mapping_field({}, "base model backend options")
    base_generation: dict[str, Any] = _mapping_field(
        {"max_new_tokens": 64, "num_beams": 1},
        "base model decoding settings (GenerationConfig fields)",
    )
    base_max_length: int = field(
        default=512, metadata=field_help("prompt budget of the base model (tokens)")
    )
    base_prompt_tokenizer: str | None = field(
        default=None, metadata=field_help("tokenizer for the RAG prompt budget (default: its own)")
    )
    generic_file: str | None = field(
        default=None,
        metadata=field_help("reuse g from this file (a generic JSONL or LaMP predictions JSON)"),
    )
    generic_items: int = field(
        default=0,
        metadata=field_help("0: g from the bare input (zero-shot, the paper); k: RAG with k items"),
    )

    def base_checks(self) -> list[tuple[bool, str]]:
        return [
            (bool(self.base_model or self.generic_file), "give base_model or generic_file"),
            (self.generic_items >= 0, "generic_items must be >= 0"),
            (self.base_max_length >= 1, "base_max_length must be >= 1"),
        ]


@dataclass
class RetrievalFields:
    """How the profile items shown to the reflection model are chosen."""

    retriever: str = field(
        default="contriever",
        metadata=field_help("pool retriever (bm25, contriever, dense, recency, random, none, ...)"),
    )
    retriever_options: dict[str, Any] = _mapping_field({}, "retriever options")
    rankings: str | None = field(
        default=None,
        metadata=field_help("precomputed rankings JSON {qid: [profile indices]} (no retriever)"),
    )
    query: str = field(
        default="input+generic",
        metadata=field_help("retrieval query: input, generic or input+generic (the paper)"),
    )
    use_date: bool = field(default=False, metadata=field_help("append dates to the documents"))

    def retrieval_checks(self) -> list[tuple[bool, str]]:
        return [(self.query in QUERY_KINDS, f"query must be one of {QUERY_KINDS}")]


@dataclass
class FormatFields:
    """The reflection prompt and its tagged output (shared by every stage)."""

    reasoning_tag: str = field(
        default="reasoning", metadata=field_help("tag of the reasoning block (paper: thinkation)")
    )
    answer_tag: str = field(default="answer", metadata=field_help("tag of the final answer"))
    item_fields: list[str] = field(
        default_factory=list,
        metadata=field_help("profile fields shown per item (default: the task's own)", metavar="F"),
    )
    field_max_words: int = field(
        default=48, metadata=field_help("words kept of each item field in the prompt")
    )
    input_max_words: int = field(
        default=256, metadata=field_help("words kept of the input and of g in the prompt")
    )
    prompt_template: str | None = field(
        default=None, metadata=field_help("your own reflection prompt (see prompts.py)")
    )
    require_reasoning: bool = field(
        default=False, metadata=field_help("a reflection without a reasoning block falls back")
    )
    max_answer_words: int = field(
        default=128, metadata=field_help("a longer final answer falls back to g")
    )
    system_prompt: str | None = field(
        default=None, metadata=field_help("system message of the reflection model")
    )

    def format_checks(self) -> list[tuple[bool, str]]:
        tags = (self.reasoning_tag, self.answer_tag)
        return [
            (all(tag and tag.isidentifier() for tag in tags), "tags must be plain names"),
            (self.reasoning_tag != self.answer_tag, "reasoning_tag and answer_tag must differ"),
            (self.field_max_words >= 1, "field_max_words must be >= 1"),
            (self.input_max_words >= 1, "input_max_words must be >= 1"),
            (self.max_answer_words >= 1, "max_answer_words must be >= 1"),
        ]


@dataclass
class OutputFields:
    """Where a command writes, and the generation cache it uses."""

    output_dir: str = field(default="", metadata=field_help("the RPO run directory"))
    cache: str | None = field(
        default=None, metadata=field_help("generation cache file (default: ~/.cache/ropg)")
    )
    restart: bool = field(
        default=False, metadata=field_help("start over output files made with other settings")
    )
    chunk_size: int = field(
        default=64, metadata=field_help("examples per resumable chunk (written as they finish)")
    )

    def output_checks(self) -> list[tuple[bool, str]]:
        return [
            (bool(self.output_dir), "output_dir is required"),
            (self.chunk_size >= 1, "chunk_size must be >= 1"),
        ]

    @property
    def run_dir(self) -> Path:
        return Path(self.output_dir).expanduser()


# -- command configs -------------------------------------------------------------------------
@dataclass
class ReflectConfig(
    OutputFields, FormatFields, RetrievalFields, BaseModelFields, DataFields, RpoConfig
):
    """``ropg-reflect``: g from the base model, retrieval, the reflection model's rewrite."""

    SECTION: ClassVar[str] = "reflect"
    RUNTIME_FIELDS: ClassVar[frozenset[str]] = frozenset({"restart", "chunk_size", "cache"})

    reflection_model: str = field(
        default="", metadata=field_help("generator spec of the reflection model (hf:DIR)")
    )
    reflection_options: dict[str, Any] = _mapping_field(
        {}, "reflection model backend options (chat, dtype, ...)"
    )
    reflection_generation: dict[str, Any] = _mapping_field(
        {"max_new_tokens": 256, "num_beams": 1, "max_input_length": 2048},
        "reflection model decoding settings",
    )
    top_k: int = field(
        default=6, metadata=field_help("items shown to the reflection model (the last RL K)")
    )
    name: str = field(default="", metadata=field_help("output name (default: the split)"))

    def checks(self) -> list[tuple[bool, str]]:
        return [
            *self.data_checks(),
            *self.base_checks(),
            *self.retrieval_checks(),
            *self.format_checks(),
            *self.output_checks(),
            (bool(self.reflection_model), "reflection_model is required"),
            (self.top_k >= 0, "top_k must be >= 0"),
        ]


@dataclass
class TrajectoryConfig(
    OutputFields, FormatFields, RetrievalFields, BaseModelFields, DataFields, RpoConfig
):
    """``rpo-train --stage trajectories``: g, rankings and filtered teacher trajectories."""

    SECTION: ClassVar[str] = "trajectories"
    RUNTIME_FIELDS: ClassVar[frozenset[str]] = frozenset({"restart", "chunk_size", "cache"})

    split: str = field(default="train", metadata=field_help("the split trained on"))
    teacher: str = field(
        default="",
        metadata=field_help("teacher generator spec (openai-chat:URL#gpt-4.1-mini) or stand-in"),
    )
    teacher_options: dict[str, Any] = _mapping_field({}, "teacher backend options")
    teacher_generation: dict[str, Any] = _mapping_field(
        {"max_new_tokens": 512, "num_beams": 1, "max_input_length": 4096},
        "teacher decoding settings",
    )
    teacher_items: int = field(
        default=1, metadata=field_help("top items the teacher sees, and the SFT prompts hold")
    )
    rank_depth: int = field(
        default=6, metadata=field_help("ranked items stored per input (>= the largest RL K)")
    )
    require_not_worse: bool = field(
        default=True, metadata=field_help("drop rewrites that score below g on the gold")
    )
    copy_min_words: int = field(
        default=8, metadata=field_help("drop verbatim copies of golds this long (0: keep)")
    )

    def checks(self) -> list[tuple[bool, str]]:
        return [
            *self.data_checks(),
            *self.base_checks(),
            *self.retrieval_checks(),
            *self.format_checks(),
            *self.output_checks(),
            (bool(self.teacher), "teacher is required (a generator spec, or stand-in for tests)"),
            (self.teacher_items >= 0, "teacher_items must be >= 0"),
            (self.rank_depth >= max(1, self.teacher_items), "rank_depth must be >= teacher_items"),
            (self.copy_min_words >= 0, "copy_min_words must be >= 0"),
        ]
