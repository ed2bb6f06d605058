"""Method families: the plug-in unit of a benchmark run.

A family declares its config section, its stages (planners of units of work), the outputs it
publishes for later stages (:mod:`ropg.benchmark.artifacts`), its table columns and any report
files of its own. ``baselines``, ``ropg`` and ``rspg`` are three families written against this
interface; a new method is one module with a :class:`MethodFamily` subclass, named in the run's
``families:`` list by a built-in name, a ``module:Class`` path or a ``ropg.families`` entry
point — no existing module changes::

    from ropg.benchmark.family import Method, MethodFamily, Stage

    class Shortest(MethodFamily):
        name = "shortest"

        def stages(self):
            return [Stage("shortest-answer", self.plan_answers)]

        def methods(self, config, llm):
            return [Method("shortest", "Shortest", self.name)]
        ...

See ``tests/test_benchmark_families.py`` for a whole family in forty lines.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ropg.benchmark.runner import Stage
from ropg.errors import UserError
from ropg.utils.plugins import is_dotted_path, load_entry_point, load_plugin

if TYPE_CHECKING:
    from ropg.benchmark.config import BenchmarkConfig, LLMEntry
    from ropg.benchmark.context import RunContext

ENTRY_POINT_GROUP = "ropg.families"
DEFAULT_FAMILIES = ("baselines", "ropg", "rspg")

__all__ = [
    "DEFAULT_FAMILIES",
    "Method",
    "MethodFamily",
    "Stage",
    "family_class",
    "family_names",
    "register_family",
]


@dataclass(frozen=True)
class Method:
    """One column of table3: its key, header and family.

    Attributes:
        name: the method key (``bm25``, ``ropg-kd``, ``rspg-post``); unique in a run.
        label: the column header.
        family: the family that produces it.
        baseline: other columns get significance markers against it.
        table: the table it is a column of (``table3``; a family's own tables use other
            names, e.g. RSPG's ``table5``); every method is evaluated either way.
        tasks: the tasks it runs on (None: every task of the run; others show ``–``).
    """

    name: str
    label: str
    family: str
    baseline: bool = False
    table: str = "table3"
    tasks: tuple[str, ...] | None = None

    def runs_on(self, task: str) -> bool:
        return self.tasks is None or task in self.tasks


class MethodFamily:
    """Base class of method families (override what the family needs).

    Class attributes:
        name: the registry name; also the key of the family's section in a run config.
        settings_class: the dataclass of that section (None: the family has no section).
        description: one line for ``--list-stages``.

    An instance holds its parsed section as ``settings``.
    """

    name: ClassVar[str] = ""
    settings_class: ClassVar[type | None] = None
    description: ClassVar[str] = ""

    def __init__(self, settings: Any = None) -> None:
        if settings is None and self.settings_class is not None:
            settings = self.settings_class()
        self.settings = settings

    # -- configuration ---------------------------------------------------------------------
    @classmethod
    def parse_settings(cls, values: Any, where: str) -> Any:
        """The section from its YAML mapping, checked: unknown keys refused, each value
        converted to its field's type or refused; a mapping field whose metadata names
        ``settings_of`` (``"ropg.training.config:RopgTrainConfig"``) is checked against that
        config class (:func:`ropg.utils.config.check_overrides`). None without a class."""
        if cls.settings_class is None:
            if values not in (None, {}):
                raise UserError(f"{where}: the {cls.name} family takes no settings")
            return None
        from ropg.utils.config import check_overrides, coerce_settings
        from ropg.utils.plugins import import_trusted

        if values is None:
            values = {}
        if not isinstance(values, Mapping):
            raise UserError(f"{where}: expected a mapping, got {values!r}")
        settings = coerce_settings(cls.settings_class, dict(values), where)
        for item in dataclasses.fields(cls.settings_class):  # settings of another config class
            target = item.metadata.get("settings_of")
            if target is not None and settings.get(item.name):
                overrides = settings[item.name]
                check_overrides(import_trusted(target), overrides, f"{where}.{item.name}")
        try:
            return cls.settings_class(**settings)
        except TypeError as error:
            raise UserError(f"{where}: {error}") from None

    def settings_dict(self) -> dict[str, Any] | None:
        """The section as YAML-able data (for the saved ``config.yaml``)."""
        if self.settings is None:
            return None
        return dataclasses.asdict(self.settings)

    def validate(self, config: BenchmarkConfig) -> None:
        """Raise a UserError naming the first bad setting (the whole config is loaded)."""

    def runs(self, config: BenchmarkConfig, llm: LLMEntry) -> bool:
        """Whether ``llm`` runs this family (and the family has something to run)."""
        return self.name in llm.methods

    def llm_tasks(self, config: BenchmarkConfig) -> Iterator[tuple[LLMEntry, str]]:
        """``(llm, task)`` for every LLM that runs this family and every task of the run."""
        for llm in config.llms:
            if self.runs(config, llm):
                for task in config.tasks:
                    yield llm, task

    def learns(self, config: BenchmarkConfig, llm: LLMEntry) -> bool:
        """Whether the family reads the train split for ``llm``."""
        return False

    def needs_rankings(self, config: BenchmarkConfig, split: str) -> set[str]:
        """Pool retrievers whose stored rankings of ``split`` the family reads."""
        return set()

    def needs_outputs(self, config: BenchmarkConfig, llm: LLMEntry, split: str) -> set[str]:
        """Retrievers (pool or trained) whose k-item outputs of ``llm`` on ``split`` it reads."""
        return set()

    def retrievers(self, config: BenchmarkConfig) -> list[str]:
        """Names of the retrievers whose k-item outputs this family produces (others may
        choose among them, as RSPG does)."""
        return []

    # -- planning and results ---------------------------------------------------------------
    def stages(self) -> list[Stage]:
        """The family's stages, in order; their planners get the :class:`RunContext`."""
        return []

    def methods(self, config: BenchmarkConfig, llm: LLMEntry) -> list[Method]:
        """The family's table3 columns for ``llm`` (each one's eval-split outputs must be
        published as :data:`~ropg.benchmark.artifacts.METHOD_OUTPUTS`)."""
        return []

    def write_report(self, ctx: RunContext) -> list[str]:
        """Write the family's own report files into the run directory; returns their names."""
        return []

    def report_sections(self, ctx: RunContext) -> list[Any]:
        """The family's sections of ``report.html`` and its LaTeX files
        (:class:`ropg.reports.Section` objects: results tables, grids/heatmaps, charts)."""
        return []


_FAMILIES: dict[str, type[MethodFamily] | str] = {
    "baselines": "ropg.benchmark.families.baselines:Baselines",
    "ropg": "ropg.benchmark.families.ropg:Ropg",
    "rspg": "ropg.benchmark.families.rspg:Rspg",
    "rpo": "ropg.benchmark.families.rpo:Rpo",
    "multistage": "ropg.benchmark.families.multistage:Multistage",
}


def register_family(family: type[MethodFamily]) -> type[MethodFamily]:
    """Make a family available by its ``name`` (usable as a class decorator)."""
    if not (isinstance(family, type) and issubclass(family, MethodFamily)) or not family.name:
        raise UserError(f"{family!r} is not a MethodFamily subclass with a name")
    _FAMILIES[family.name] = family
    return family


def family_names() -> list[str]:
    """Built-in and registered family names."""
    from importlib.metadata import entry_points

    return sorted(set(_FAMILIES) | {entry.name for entry in entry_points(group=ENTRY_POINT_GROUP)})


def family_class(spec: str) -> type[MethodFamily]:
    """The family class of a built-in name, a ``module:Class`` path or an entry point;
    anything that is not a :class:`MethodFamily` subclass is refused before it is called."""
    found: Any = _FAMILIES.get(spec)
    if isinstance(found, str):
        module, _, attribute = found.partition(":")
        found = getattr(importlib.import_module(module), attribute)
    if found is None and is_dotted_path(spec):
        found = load_plugin(spec, "method family", base=MethodFamily)
    if found is None:
        found = load_entry_point(ENTRY_POINT_GROUP, spec, "method family", base=MethodFamily)
    if found is None:
        raise UserError(
            f"unknown method family {spec!r}; families: {', '.join(family_names())}; or give a "
            "'module:Class' path or a 'ropg.families' entry point"
        )
    if not found.name:
        raise UserError(f"method family {spec!r} has no name")
    return found
