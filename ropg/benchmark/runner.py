"""Stages, their units of work, done markers, and the loop that runs them.

A stage (``rank``, ``generate``, ...) plans *units*: one piece of work each (one task's ranking
by one retriever, one LLM's pool outputs for one task and split, one trained model). A unit
has a *spec* (the settings that decide its output) and *deps* (the units whose outputs it
reads). Its fingerprint hashes the spec with its deps' fingerprints; when it finishes, a
marker ``state/<stage>/<unit>.json`` records the fingerprint. A re-run skips every unit whose
marker matches, so a killed run (or a repeated one) redoes only unfinished or changed work,
and a change anywhere re-runs exactly what depends on it.

Units write their outputs atomically (or resumably) before the marker, so a marker never
points at a half-written file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ropg.errors import UserError
from ropg.utils.io import atomic_write_json, finite_or_none

logger = logging.getLogger(__name__)

MARKER_VERSION = 1


@dataclass
class Unit:
    """One piece of work of a stage.

    Attributes:
        stage: the stage name.
        key: unique within the stage, path-like (``LaMP-2/reader/dev``).
        spec: JSON-able settings that decide the output.
        run: does the work; returns JSON-able facts for the marker (counts, metrics).
        deps: ``(stage, key)`` of the units whose outputs this one reads.
    """

    stage: str
    key: str
    spec: dict[str, Any]
    run: Callable[[], dict[str, Any] | None]
    deps: tuple[tuple[str, str], ...] = ()

    @property
    def ref(self) -> tuple[str, str]:
        """``(stage, key)``: what a unit that reads this one's output lists in its deps."""
        return (self.stage, self.key)


@dataclass
class Stage:
    """A named step of the pipeline.

    Attributes:
        name: the stage name (``--stages`` and ``state/`` use it).
        plan: ``plan(ctx) -> units``.
        family: the method family it belongs to (None: a core stage such as the report).
        always: run every time (cheap, deterministic stages such as the report).
        description: one line for ``--list-stages``.
    """

    name: str
    plan: Callable[[Any], list[Unit]]
    family: str | None = None
    always: bool = False
    description: str = ""


@dataclass
class Markers:
    """Done markers under ``run_dir/state``."""

    root: Path
    _cache: dict[tuple[str, str], dict[str, Any] | None] = field(default_factory=dict)

    def path(self, stage: str, key: str) -> Path:
        return self.root / stage / (key.replace("/", "__") + ".json")

    def read(self, stage: str, key: str) -> dict[str, Any] | None:
        if (stage, key) not in self._cache:
            path = self.path(stage, key)
            try:
                marker = json.loads(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                marker = None
            except (OSError, ValueError):
                logger.warning("%s: unreadable marker; the unit will run again", path)
                marker = None
            self._cache[(stage, key)] = marker
        return self._cache[(stage, key)]

    def write(self, unit: Unit, fingerprint: str, info: dict[str, Any], seconds: float) -> None:
        marker = {
            "version": MARKER_VERSION,
            "stage": unit.stage,
            "key": unit.key,
            "fingerprint": fingerprint,
            "spec": unit.spec,
            "deps": [list(dep) for dep in unit.deps],
            "info": finite_or_none(info),  # informational: a NaN loss must not stop a run
            "seconds": round(seconds, 3),
        }
        atomic_write_json(self.path(unit.stage, unit.key), marker, indent=1)
        self._cache[(unit.stage, unit.key)] = marker

    def is_current(self, unit: Unit, fingerprint: str, always: bool = False) -> bool:
        """Whether ``unit`` is done with this ``fingerprint`` (a stage that runs every time
        never is): a run skips it."""
        marker = self.read(unit.stage, unit.key)
        return not always and marker is not None and marker["fingerprint"] == fingerprint

    def fingerprint(self, unit: Unit) -> str:
        """Hash of the unit's spec and its dependencies' fingerprints (which must be done)."""
        deps = []
        for stage, key in unit.deps:
            marker = self.read(stage, key)
            if marker is None:
                raise UserError(
                    f"{unit.stage} {unit.key} needs {stage} {key}, which has not run; "
                    f"include the {stage!r} stage"
                )
            deps.append([stage, key, marker["fingerprint"]])
        payload = {"stage": unit.stage, "key": unit.key, "spec": unit.spec, "deps": deps}
        text = json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


@dataclass
class StageReport:
    """What one stage did: units run and skipped, and the time it took."""

    stage: str
    ran: int = 0
    skipped: int = 0
    seconds: float = 0.0
    keys_run: list[str] = field(default_factory=list)


def plan_run(ctx: Any, stages: Sequence[Stage]) -> list[tuple[Stage, list[Unit]]]:
    """Plan every stage in order (planners publish the handles later planners read), so that
    a run of some stages only still knows every unit's dependencies."""
    return [(stage, stage.plan(ctx)) for stage in stages]


def plan_selected(
    ctx: Any, stages: Sequence[Stage], selected: Sequence[str] | None
) -> list[tuple[Stage, list[Unit]]]:
    """:func:`plan_run`, keeping the ``selected`` stages (all when None)."""
    return [
        (stage, units)
        for stage, units in plan_run(ctx, stages)
        if selected is None or stage.name in selected
    ]


def run_stages(
    ctx: Any,
    stages: Sequence[Stage],
    selected: Sequence[str] | None = None,
    show_progress: bool = True,
) -> list[StageReport]:
    """Plan every stage, then run the ``selected`` ones (all when None) in order; units whose
    markers match are skipped."""
    from tqdm.auto import tqdm

    markers = Markers(ctx.run_dir / "state")
    planned = plan_selected(ctx, stages, selected)
    reports = []
    for number, (stage, units) in enumerate(planned, start=1):
        started = time.perf_counter()
        report = StageReport(stage.name)
        bar = tqdm(
            total=len(units),
            desc=f"[{number}/{len(planned)}] {stage.name}",
            unit="unit",
            disable=not show_progress,
            leave=True,
        )
        for unit in units:
            fingerprint = markers.fingerprint(unit)
            if markers.is_current(unit, fingerprint, stage.always):
                report.skipped += 1
                bar.update(1)
                continue
            bar.set_postfix_str(unit.key, refresh=True)
            unit_started = time.perf_counter()
            info = unit.run() or {}
            markers.write(unit, fingerprint, info, time.perf_counter() - unit_started)
            report.ran += 1
            report.keys_run.append(unit.key)
            bar.update(1)
        bar.close()
        report.seconds = time.perf_counter() - started
        log_stage(report)
        reports.append(report)
    return reports


def log_stage(report: StageReport) -> None:
    """The one line a finished stage logs."""
    logger.info(
        "stage %s: %d unit(s) run, %d already done (%.1fs)",
        report.stage,
        report.ran,
        report.skipped,
        report.seconds,
    )
