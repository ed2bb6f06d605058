"""The methods (table columns) of a run and where each one's outputs come from.

=========  ======================================  =========================================
group      methods                                 outputs
=========  ======================================  =========================================
baselines  the pool retrievers (none, bm25, ...)   ``feedback/<llm>/<task>/<split>.base.jsonl``
ropg       ``ropg-rl``, ``ropg-kd``                ``feedback/<llm>/<task>/<split>.ropg.jsonl``
rspg       ``rspg-pre``, ``rspg-post``             the chosen retriever's output per input
=========  ======================================  =========================================
"""

from __future__ import annotations

from dataclasses import dataclass

from ropg.benchmark.config import BenchmarkConfig, LLMEntry

POOL_FILES = {"baselines": "base", "ropg": "ropg"}


@dataclass(frozen=True)
class Method:
    """One table column.

    Attributes:
        name: the method key (``bm25``, ``ropg-kd``, ``rspg-post``).
        label: the column header.
        group: ``baselines``, ``ropg`` or ``rspg``.
    """

    name: str
    label: str
    group: str

    @property
    def is_baseline(self) -> bool:
        return self.group == "baselines"


def ropg_name(method: str) -> str:
    return f"ropg-{method}"


def rspg_name(mode: str) -> str:
    return f"rspg-{mode}"


def all_methods(config: BenchmarkConfig) -> list[Method]:
    """Every method the config defines, in column order (baselines, ROPG, RSPG)."""
    methods = [Method(name, entry.label, "baselines") for name, entry in config.retrievers.items()]
    methods += [
        Method(ropg_name(m), config.ropg.labels.get(m, ropg_name(m)), "ropg")
        for m in config.ropg.methods
    ]
    methods += [
        Method(rspg_name(m), config.rspg.labels.get(m, rspg_name(m)), "rspg")
        for m in config.rspg.modes
    ]
    return methods


def runs(config: BenchmarkConfig, llm: LLMEntry, group: str) -> bool:
    """Whether ``llm`` runs method group ``group`` and the config gives it something to run
    (ROPG: a method; RSPG: a mode and a pool). Every stage planner asks this."""
    if group not in llm.methods:
        return False
    if group == "ropg":
        return bool(config.ropg.methods)
    if group == "rspg":
        return bool(config.rspg.modes and config.rspg.pool)
    return True


def train_split_pool(config: BenchmarkConfig, llm: LLMEntry) -> list[str]:
    """The retrievers whose train-split outputs the run reads: RSPG's pool (its selector
    trains on them), when ``llm`` runs RSPG; nothing else is generated on the train split."""
    return list(config.rspg.pool) if runs(config, llm, "rspg") else []


def methods_for(config: BenchmarkConfig, llm: LLMEntry, group: str | None = None) -> list[Method]:
    """The methods run for ``llm`` (optionally of one group)."""
    return [
        method
        for method in all_methods(config)
        if runs(config, llm, method.group) and (group is None or method.group == group)
    ]


def pool_group(config: BenchmarkConfig, name: str) -> str:
    """The pool file (``base`` or ``ropg``) holding the outputs of retriever ``name``."""
    if name in config.retrievers:
        return POOL_FILES["baselines"]
    return POOL_FILES["ropg"]
