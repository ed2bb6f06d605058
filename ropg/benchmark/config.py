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
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ropg.errors import UserError
from ropg.lamp.metrics import AGGREGATES
from ropg.utils.config import known_settings, parse_scalar

STAGE_GROUPS = ("baselines", "ropg", "rspg")
ROPG_METHODS = ("kd", "rl")
RSPG_MODES = ("pre", "post")


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise UserError(f"{where}: expected a mapping, got {value!r}")
    return dict(value)


def _section(cls: type, value: Any, where: str) -> dict[str, Any]:
    """A mapping of ``cls``'s settings at ``where`` in the config (unknown keys refused)."""
    return known_settings(cls, _mapping(value, where), where)


def _names(value: Any, where: str, allowed: Sequence[str] | None = None) -> list[str]:
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
        max_length: prompt budget in tokens (LAMP_SPEC section 4).
        build: build this model on the fly (``smoke-t5``, see :mod:`ropg.benchmark.smoke`).
        smoke: a smoke run: numbers say the pipeline works, not how good anything is.
        methods: which method groups to run for this LLM (baselines, ropg, rspg).
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
    methods: list[str] = field(default_factory=lambda: list(STAGE_GROUPS))

    def __post_init__(self) -> None:
        self.label = self.label or self.name
        self.options = _mapping(self.options, f"llm {self.name}: options")
        self.generation = _mapping(self.generation, f"llm {self.name}: generation")
        self.methods = _names(self.methods, f"llm {self.name}: methods", STAGE_GROUPS)
        if "/" in self.name or not self.name:
            raise UserError(f"llm name {self.name!r} must be non-empty without '/'")


@dataclass
class RopgSection:
    """ROPG training (LAMP_SPEC section 6).

    Attributes:
        methods: ``kd`` and/or ``rl``.
        initial: the pool retriever whose ranking gives the candidates.
        model: the encoder to start from (default: the initial retriever's ``model``).
        configs: per method, a ``ropg-train`` YAML (relative to this config's directory).
        overrides: training settings applied on top (``epochs``, ``max_length``, ...).
        use_date: documents with dates, in training and when ranking with the trained model.
        rerank: rank only the initial retriever's first ``rerank`` items with the trained
            model (None: the whole profile, as in the paper); a speed knob for small machines.
        dev_feedback: also collect candidates feedback on the eval split, for the trainer's
            per-epoch dev figures (costs ``candidates`` generations per eval input).
        labels: column headers per method.
    """

    methods: list[str] = field(default_factory=lambda: list(ROPG_METHODS))
    initial: str = "contriever"
    model: str | None = None
    configs: dict[str, str] = field(default_factory=dict)
    overrides: dict[str, Any] = field(default_factory=dict)
    use_date: bool = True
    rerank: int | None = None
    dev_feedback: bool = True
    labels: dict[str, str] = field(default_factory=lambda: {"kd": "ROPG-KD", "rl": "ROPG-RL"})

    def __post_init__(self) -> None:
        self.methods = _names(self.methods, "ropg.methods", ROPG_METHODS)


@dataclass
class RspgSection:
    """RSPG selector training and selection (LAMP_SPEC section 6).

    Attributes:
        modes: ``pre`` and/or ``post``.
        pool: the retrievers the selector chooses from (pool and ROPG names, e.g. ``ropg-kd``).
        config: a ``rspg-train`` YAML (relative to this config's directory).
        overrides: selector settings applied on top (``model``, ``epochs``, ...).
        qpp: QPP baselines shown in the success-rate table.
        labels: column headers per mode.
    """

    modes: list[str] = field(default_factory=lambda: list(RSPG_MODES))
    pool: list[str] = field(default_factory=list)
    config: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)
    qpp: list[str] = field(default_factory=lambda: ["wig", "nqc", "sigma_max", "sigma_x"])
    labels: dict[str, str] = field(default_factory=lambda: {"pre": "RSPG-Pre", "post": "RSPG-Post"})

    def __post_init__(self) -> None:
        self.modes = _names(self.modes, "rspg.modes", RSPG_MODES)
        self.pool = _names(self.pool, "rspg.pool")
        self.qpp = _names(self.qpp, "rspg.qpp")


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
        aggregate: ROUGE aggregation (``mean`` or the reference's seeded ``bootstrap``).
        alpha: significance level of the table markers.
        seed: seed of the bootstrap and of training.
        query_fallback: ``error`` or ``input`` for inputs without a query marker.
        offline: never contact the Hugging Face Hub (sets ``HF_HUB_OFFLINE=1``).
        llms, retrievers, ropg, rspg: the sections above.
        base_dir: the config file's directory: ``ropg.configs`` and ``rspg.config`` are
            resolved against it. Other relative paths (data, output_root, cache_dir) are
            relative to the working directory.
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
    aggregate: str = "mean"
    alpha: float = 0.05
    seed: int = 0
    query_fallback: str = "input"
    offline: bool = False
    llms: list[LLMEntry] = field(default_factory=list)
    retrievers: dict[str, RetrieverEntry] = field(default_factory=dict)
    ropg: RopgSection = field(default_factory=RopgSection)
    rspg: RspgSection = field(default_factory=RspgSection)
    base_dir: str = "."

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def from_dict(cls, values: Mapping[str, Any], base_dir: str | os.PathLike[str] = ".") -> Any:
        """Build and validate from a (YAML) mapping; every problem is a UserError."""
        values = _section(cls, values, "config")
        llms = values.pop("llms", None) or []
        if not isinstance(llms, list):
            raise UserError("config: llms must be a list")
        retrievers = _mapping(values.pop("retrievers", None), "retrievers")
        try:
            values["llms"] = [
                LLMEntry(**_section(LLMEntry, entry, f"llms[{index}]"))
                for index, entry in enumerate(llms)
            ]
            values["retrievers"] = {
                str(name): RetrieverEntry(
                    name=str(name),
                    **_section(RetrieverEntry, entry, f"retrievers.{name}"),
                )
                for name, entry in retrievers.items()
            }
            values["ropg"] = RopgSection(**_section(RopgSection, values.get("ropg"), "ropg"))
            values["rspg"] = RspgSection(**_section(RspgSection, values.get("rspg"), "rspg"))
        except TypeError as error:
            raise UserError(f"config: {error}") from None
        values.setdefault("base_dir", str(base_dir))
        if values.get("stages") is not None:
            values["stages"] = _names(values["stages"], "stages")
        values["tasks"] = _names(values.get("tasks", cls().tasks), "tasks")
        config = cls(**values)
        config.validate()
        return config

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
        checks = [
            (self.k >= 1, "k must be >= 1"),
            (self.candidates >= 2, "candidates must be >= 2"),
            (self.limit is None or self.limit >= 1, "limit must be >= 1"),
            (0 < self.alpha < 1, "alpha must be in (0, 1)"),
            (self.aggregate in AGGREGATES, f"aggregate must be one of {AGGREGATES}"),
            (self.query_fallback in ("error", "input"), "query_fallback: error or input"),
            (bool(self.name) and "/" not in self.name, "name must be non-empty without '/'"),
        ]
        uses_ropg = any("ropg" in llm.methods for llm in self.llms) and self.ropg.methods
        if uses_ropg:
            checks.append(
                (
                    self.ropg.initial in self.retrievers,
                    f"ropg.initial {self.ropg.initial!r} is not in retrievers",
                )
            )
        rerank = self.ropg.rerank
        checks.append(
            (
                rerank is None or 1 <= rerank <= max(self.k, self.candidates),
                "ropg.rerank must be between 1 and max(k, candidates) (the stored ranking depth)",
            )
        )
        known = set(self.retrievers) | {f"ropg-{m}" for m in self.ropg.methods}
        unknown = [name for name in self.rspg.pool if name not in known]
        checks.append((not unknown, f"rspg.pool names unknown retrievers {unknown}"))
        for ok, message in checks:
            if not ok:
                raise UserError(f"config: {message}")

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
        values = dataclasses.asdict(self)
        for retriever in values["retrievers"].values():
            retriever.pop("name")
        return values

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the resolved config as YAML (atomically)."""
        import yaml

        from ropg.utils.io import atomic_open

        with atomic_open(path) as stream:
            yaml.safe_dump(self.to_dict(), stream, sort_keys=False, allow_unicode=True)


def apply_override(values: dict[str, Any], override: str) -> None:
    """Set ``values[a][b][...] = parsed VALUE`` for ``"a.b...=VALUE"`` (list indices allowed)."""
    key, separator, text = override.partition("=")
    if not separator or not key.strip():
        raise UserError(f"override {override!r} must be KEY=VALUE (e.g. limit=10)")
    value = parse_scalar(text)
    parts = key.strip().split(".")
    target: Any = values
    for position, part in enumerate(parts[:-1]):
        nxt = parts[position + 1]
        if isinstance(target, list):
            target = target[_index(target, part, key)]
            continue
        if part not in target or target[part] is None:
            target[part] = [] if nxt.isdigit() else {}
        target = target[part]
    last = parts[-1]
    if isinstance(target, list):
        target[_index(target, last, key)] = value
    elif isinstance(target, dict):
        target[last] = copy.deepcopy(value)
    else:
        raise UserError(f"override {override!r}: {'.'.join(parts[:-1])} is not a mapping")


def _index(target: list[Any], part: str, key: str) -> int:
    if not part.isdigit() or int(part) >= len(target):
        raise UserError(f"override {key!r}: {part!r} is not an index of a {len(target)}-item list")
    return int(part)
