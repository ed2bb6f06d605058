"""``BenchmarkConfig``: everything one ``benchmarks/run_all.py`` run does, as data.

A YAML file (``benchmarks/configs/*.yaml``) gives the settings; ``KEY=VALUE`` overrides on
the command line change any of them by dotted path (``limit=10``, ``tasks=[LaMP-2]``,
``llms.0.generation.batch_size=8``, ``ropg.overrides.epochs=2``); values are YAML scalars.
The resolved config is saved as ``config.yaml`` in the run directory, and that file is itself
a valid ``--config``.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ropg.benchmark.family import DEFAULT_FAMILIES, MethodFamily, family_class
from ropg.errors import UserError
from ropg.lamp.metrics import AGGREGATES
from ropg.utils.config import apply_override, coerce_settings

__all__ = ["BenchmarkConfig", "LLMEntry", "RetrieverEntry", "apply_override", "names_list"]


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise UserError(f"{where}: expected a mapping, got {value!r}")
    return dict(value)


def path_component(value: Any, where: str) -> str:
    """A name used as one directory or file name of a run's outputs: non-empty, without a
    path separator, and not ``.`` or ``..`` (which would write outside the run)."""
    name = str(value)
    if not name or name in (".", "..") or any(c in name for c in "/\\\0"):
        raise UserError(
            f"{where} {name!r} must be a plain name (non-empty, no '/', not '.' or '..'): "
            "it names a directory of the run's outputs"
        )
    return name


def names_list(value: Any, where: str, allowed: Sequence[str] | None = None) -> list[str]:
    """A list of names (a comma-separated string is accepted), each in ``allowed`` if given."""
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if not isinstance(value, Sequence) or any(isinstance(v, (dict, list)) for v in value):
        raise UserError(f"{where}: expected a list of names, got {value!r}")
    names = [str(v) for v in value]
    bad = sorted(set(names) - set(allowed)) if allowed is not None else []
    if bad:
        raise UserError(f"{where}: unknown {bad}; use {list(allowed or ())}")
    return names


@dataclass
class RetrieverEntry:
    """One retriever of the baseline pool (one table column).

    Attributes:
        name: the method name (key in ``retrievers``), e.g. ``contriever``.
        retriever: the registry name (``bm25``, ``dense``, a ``module:Class`` path, ...).
        options: constructor options; a dense ``model`` may be an alias (``minilm``).
        label: the column header.
        use_date: append ``" date: ..."`` to documents.
    """

    name: str
    retriever: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    label: str = ""
    use_date: bool = False

    def __post_init__(self) -> None:
        self.retriever = self.retriever or self.name
        self.label = self.label or self.name
        self.options = _mapping(self.options, f"retrievers.{self.name}.options")


@dataclass
class LLMEntry:
    """One LLM (one table per LLM).

    Attributes:
        name: short name used in paths (``reader``, ``flan-t5-xxl``).
        spec: generator spec (``reader:profile``, ``hf:google/flan-t5-xxl``, ``vllm:...``);
            ``{model}`` is replaced by the directory of a ``build`` model.
        label: human label in the tables.
        options: generator options (``dtype``, ``device_map``, ...).
        generation: :class:`~ropg.generation.GenerationConfig` fields.
        prompt_tokenizer: tokenizer for prompt budgets (default: the generator's own).
        max_length: prompt budget in tokens (docs/lamp-fidelity.md: Prompts).
        build: build this model on the fly (``smoke-t5``, see :mod:`ropg.benchmark.smoke`).
        smoke: a smoke run: numbers say the pipeline works, not how good anything is.
        methods: which method families to run for this LLM (default: every family of the run).
    """

    name: str
    spec: str
    label: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    generation: dict[str, Any] = field(default_factory=dict)
    prompt_tokenizer: str | None = None
    max_length: int = 512
    build: str | None = None
    smoke: bool = False
    methods: list[str] = field(default_factory=lambda: list(DEFAULT_FAMILIES))

    def __post_init__(self) -> None:
        path_component(self.name, "llm name")
        self.label = self.label or self.name
        self.options = _mapping(self.options, f"llm {self.name}: options")
        self.generation = _mapping(self.generation, f"llm {self.name}: generation")
        self.methods = names_list(self.methods, f"llm {self.name}: methods")
        self.check()

    def check(self) -> None:
        """Check the settings without loading anything: the decoding section through
        :class:`~ropg.generation.GenerationConfig`, the prompt budget, and a ``module:Class``
        generator plug-in (resolved and checked to be a generator, never called)."""
        from ropg.generation.base import GenerationConfig
        from ropg.generation.registry import check_generator_spec

        where = f"llm {self.name}"
        if self.max_length < 1:
            raise UserError(f"{where}: max_length must be >= 1, got {self.max_length}")
        try:
            GenerationConfig.from_dict(self.generation)
        except (TypeError, ValueError) as error:
            message = str(error)
            message = message if message.startswith("generation") else f"generation: {message}"
            raise UserError(f"{where}: {message}") from None
        if self.build is None:
            try:
                check_generator_spec(self.spec)
            except Exception as error:  # GenerationError, UserError: say which LLM
                raise UserError(f"{where}: {error}") from None


@dataclass
class BenchmarkConfig:
    """One benchmark run (see ``benchmarks/configs/quickstart.yaml`` for a commented one).

    Attributes:
        name: the run name: outputs go to ``{output_root}/{name}/``.
        output_root: where runs are written.
        data: LaMP data directory, ``sample`` (the shipped synthetic sample) or ``hf:...``.
        layout: ``auto``, ``time``, ``user`` or ``flat``.
        tasks: LaMP tasks to run.
        eval_split: the split evaluated in the tables (needs golds).
        train_split: the split ROPG and RSPG learn from.
        limit: first N examples of each split (None: all).
        k: items per prompt. candidates: ROPG candidates per input (``l``).
        cache_dir: generation and embedding caches: ``default`` (``$ROPG_CACHE_DIR`` or
            ``~/.cache/ropg``, shared by every run), ``run`` (``{run_dir}/cache``) or a path.
        stages: stage names to run (None: all), e.g. ``[rank, generate, evaluate, report]``.
        jobs: units run at once, each in a worker process of its own with ``cpu_count // jobs``
            torch threads (:mod:`ropg.benchmark.parallel`); 1: every unit in this process.
            Two jobs use a 2-core CPU better than one process with two threads; on a GPU
            keep 1 (the workers would share it).
        aggregate: ROUGE aggregation (``mean`` or the reference's seeded ``bootstrap``).
        alpha: significance level of the table markers.
        seed: seed of the bootstrap and of training.
        query_fallback: ``error`` or ``input`` for inputs without a query marker.
        offline: never contact the Hugging Face Hub (sets ``HF_HUB_OFFLINE=1``).
        llms, retrievers: the sections above.
        families: the method families of the run, in table order (built-in names,
            ``module:Class`` paths or ``ropg.families`` entry points); each family's settings
            are the config section named after it (``ropg:``, ``rspg:``, ...).
        base_dir: the config file's directory: files a family section names (``ropg.configs``,
            ``rspg.config``) are resolved against it. Other relative paths (data,
            output_root, cache_dir) are relative to the working directory.
    """

    name: str = "run"
    output_root: str = "results"
    data: str = "sample"
    layout: str = "auto"
    tasks: list[str] = field(default_factory=lambda: [f"LaMP-{k}" for k in range(1, 8)])
    eval_split: str = "dev"
    train_split: str = "train"
    limit: int | None = None
    k: int = 4
    candidates: int = 16
    cache_dir: str = "default"
    stages: list[str] | None = None
    jobs: int = 1
    aggregate: str = "mean"
    alpha: float = 0.05
    seed: int = 0
    query_fallback: str = "input"
    offline: bool = False
    llms: list[LLMEntry] = field(default_factory=list)
    retrievers: dict[str, RetrieverEntry] = field(default_factory=dict)
    families: list[str] = field(default_factory=lambda: list(DEFAULT_FAMILIES))
    base_dir: str = "."
    sections: dict[str, MethodFamily] = field(default_factory=dict, repr=False)

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def from_dict(cls, values: Mapping[str, Any], base_dir: str | os.PathLike[str] = ".") -> Any:
        """Build and validate from a (YAML) mapping; every problem is a UserError."""
        values = dict(_mapping(values, "config"))
        specs = names_list(values.pop("families", DEFAULT_FAMILIES), "families")
        families: dict[str, MethodFamily] = {}
        for spec in specs:
            family = family_class(spec)
            if family.name in families:
                raise UserError(f"families: {family.name!r} is listed twice")
            families[family.name] = family(family.parse_settings(values.pop(family.name, None),
                                                                 family.name))  # fmt: skip
        from ropg.benchmark.family import family_names

        field_names = {item.name for item in dataclasses.fields(cls)}
        for key in [key for key in values if key not in field_names and key in family_names()]:
            logging.getLogger(__name__).warning(
                "config: the %s section is ignored: %s is not in families %s", key, key, specs
            )
            values.pop(key)
        values = coerce_settings(
            cls, values, "config", skip=("llms", "retrievers", "tasks", "stages", "sections")
        )
        values.pop("sections", None)
        llms = values.pop("llms", None) or []
        if not isinstance(llms, list):
            raise UserError("config: llms must be a list")
        retrievers = _mapping(values.pop("retrievers", None), "retrievers")
        try:
            entries = [
                coerce_settings(LLMEntry, _mapping(entry, f"llms[{index}]"), f"llms[{index}]",
                                skip=("options", "generation", "methods"))
                for index, entry in enumerate(llms)
            ]  # fmt: skip
            for entry in entries:
                entry.setdefault("methods", list(families))
            values["llms"] = [LLMEntry(**entry) for entry in entries]
            values["retrievers"] = {
                str(name): RetrieverEntry(
                    name=str(name),
                    **coerce_settings(
                        RetrieverEntry,
                        _mapping(entry, f"retrievers.{name}"),
                        f"retrievers.{name}",
                        skip=("options",),
                    ),
                )
                for name, entry in retrievers.items()
            }
        except TypeError as error:
            raise UserError(f"config: {error}") from None
        values.setdefault("base_dir", str(base_dir))
        if values.get("stages") is not None:
            values["stages"] = names_list(values["stages"], "stages")
        values["tasks"] = names_list(values.get("tasks", cls().tasks), "tasks")
        config = cls(**values, families=specs, sections=families)
        config.validate()
        return config

    def __getattr__(self, name: str) -> Any:
        """A family's section by the family's name (``config.ropg.initial``)."""
        sections = self.__dict__.get("sections") or {}
        if name in sections:
            return sections[name].settings
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def family(self, name: str) -> MethodFamily:
        """The family instance ``name`` of this run (its ``settings`` are its section)."""
        if name not in self.sections:
            raise UserError(f"the run has no {name!r} family (families: {self.families})")
        return self.sections[name]

    def family_list(self) -> list[MethodFamily]:
        """The run's families, in table order."""
        return list(self.sections.values())

    @classmethod
    def load(
        cls, path: str | os.PathLike[str] | None, overrides: Sequence[str] = ()
    ) -> BenchmarkConfig:
        """The YAML file at ``path`` (or defaults) with ``KEY=VALUE`` overrides applied."""
        from ropg.utils.config import read_yaml

        values: dict[str, Any] = dict(read_yaml(path)) if path else {}
        for override in overrides:
            apply_override(values, override)
        base = Path(path).resolve().parent if path else Path.cwd()
        return cls.from_dict(values, values.get("base_dir") or base)

    def validate(self) -> None:
        """Raise a UserError naming the first bad setting."""
        from ropg.lamp import get_task

        for task in self.tasks:
            get_task(task)
        if not self.llms:
            raise UserError("config: give at least one LLM under 'llms'")
        names = [llm.name for llm in self.llms]
        if len(set(names)) != len(names):
            raise UserError(f"config: LLM names must be unique, got {names}")
        if not self.retrievers:
            raise UserError("config: give the baseline pool under 'retrievers'")
        for llm in self.llms:
            unknown = [name for name in llm.methods if name not in self.sections]
            if unknown:
                raise UserError(
                    f"llm {llm.name}: methods {unknown} are not families of this run "
                    f"(families: {list(self.sections)})"
                )
        from ropg.lamp.data import LAYOUTS, SPLITS

        path_component(self.name, "config: name")
        checks = [
            (self.k >= 1, "k must be >= 1"),
            (self.candidates >= 2, "candidates must be >= 2"),
            (self.limit is None or self.limit >= 1, "limit must be >= 1"),
            (self.jobs >= 1, "jobs must be >= 1"),
            (0 < self.alpha < 1, "alpha must be in (0, 1)"),
            (self.aggregate in AGGREGATES, f"aggregate must be one of {AGGREGATES}"),
            (self.query_fallback in ("error", "input"), "query_fallback: error or input"),
            (self.eval_split in SPLITS, f"eval_split must be one of {SPLITS}"),
            (self.train_split in SPLITS, f"train_split must be one of {SPLITS}"),
            (self.layout in LAYOUTS, f"layout must be one of {LAYOUTS}"),
            (bool(self.output_root), "output_root must be a directory path"),
        ]
        for ok, message in checks:
            if not ok:
                raise UserError(f"config: {message}")
        from ropg.benchmark.config_checks import check_plugins, check_settings_files

        check_plugins(self)
        check_settings_files(self)
        for family in self.sections.values():
            family.validate(self)

    # -- helpers ----------------------------------------------------------------------------
    def path(self, value: str | os.PathLike[str]) -> Path:
        """A path named by the config file, relative to its directory (absolute ones kept)."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else Path(self.base_dir) / path

    @property
    def run_dir(self) -> Path:
        root = Path(self.output_root).expanduser()
        return root / self.name

    def to_dict(self) -> dict[str, Any]:
        values = {
            item.name: copy.deepcopy(getattr(self, item.name))
            for item in dataclasses.fields(self)
            if item.name != "sections"
        }
        values["llms"] = [dataclasses.asdict(llm) for llm in self.llms]
        values["retrievers"] = {
            name: {k: v for k, v in dataclasses.asdict(entry).items() if k != "name"}
            for name, entry in self.retrievers.items()
        }
        for name, family in self.sections.items():
            section = family.settings_dict()
            if section is not None:
                values[name] = section
        return values

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the resolved config as YAML (atomically)."""
        import yaml

        from ropg.utils.io import atomic_open

        with atomic_open(path) as stream:
            yaml.safe_dump(self.to_dict(), stream, sort_keys=False, allow_unicode=True)
