"""Handles to what planned units produce, so later units depend on handles, not key strings.

Planning a run (:func:`ropg.benchmark.runner.plan_run`) calls every stage's planner in order;
a planner that creates a unit publishes what the unit will write under a *kind* and a key
tuple, and a later planner looks the handle up and depends on it::

    handle = ctx.artifacts.publish(RANKINGS, (task, split, name), Handle.of(unit, path))
    ...
    initial = ctx.artifacts.get(RANKINGS, (task, split, "contriever"))
    Unit(..., deps=(initial.dep,))

A missing handle is a planning error that names who needs what, before any unit runs.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ropg.errors import UserError

RANKINGS = "rankings"
"""``(task, split, retriever name)``: a stored ranking file (``path``)."""

RETRIEVER_OUTPUTS = "retriever-outputs"
"""``(llm, task, split, retriever name)``: a pool feedback file holding that retriever's k-item
prompts, outputs and scores (``path``) — what RSPG chooses among."""

METHOD_OUTPUTS = "method-outputs"
"""``(llm, task, method name)``: a table column's eval-split outputs (``read()``)."""

MODEL = "model"
"""``(llm, task, method name)``: a trained model directory (``path``)."""


@dataclass(frozen=True)
class Handle:
    """What one planned unit produces.

    Attributes:
        stage, key: the producing unit (``dep`` is what a consumer lists in its deps).
        path: the file or directory it writes, when there is one.
        read: loads the artifact (e.g. a method's outputs in split order), when offered.
    """

    stage: str
    key: str
    path: Path | None = None
    read: Callable[[], Any] | None = None

    @property
    def dep(self) -> tuple[str, str]:
        return (self.stage, self.key)

    @classmethod
    def of(cls, unit: Any, path: Path | None = None, read: Callable[[], Any] | None = None):
        """The handle of ``unit`` (a :class:`~ropg.benchmark.runner.Unit`)."""
        return cls(unit.stage, unit.key, path, read)


class Artifacts:
    """The handles published while a run is planned, by kind and key."""

    def __init__(self) -> None:
        self._handles: dict[tuple[str, tuple[Hashable, ...]], Handle] = {}

    def publish(self, kind: str, key: tuple[Hashable, ...], handle: Handle) -> Handle:
        """Record ``handle`` as the producer of ``(kind, key)``; returns it."""
        if (kind, key) in self._handles:
            other = self._handles[(kind, key)]
            raise UserError(
                f"{kind} {'/'.join(map(str, key))} is produced twice ({other.stage} and "
                f"{handle.stage}); two families use the same names"
            )
        self._handles[(kind, key)] = handle
        return handle

    def find(self, kind: str, key: tuple[Hashable, ...]) -> Handle | None:
        return self._handles.get((kind, key))

    def get(self, kind: str, key: tuple[Hashable, ...], needed_by: str = "") -> Handle:
        """The producer of ``(kind, key)``; a :class:`UserError` naming it when none is planned."""
        handle = self._handles.get((kind, key))
        if handle is None:
            who = f"{needed_by} needs " if needed_by else ""
            raise UserError(
                f"{who}{kind} {'/'.join(map(str, key))}, which no stage of this run produces "
                "(is the family that makes it configured and run for this LLM?)"
            )
        return handle

    def keys(self, kind: str) -> list[tuple[Hashable, ...]]:
        """The keys published under ``kind``, in publication order."""
        return [key for (found, key) in self._handles if found == kind]
