"""Run a benchmark's units in several processes at once (the config's ``jobs: N``).

On a CPU, torch gains little from a second thread on the small models of a quick start (the
whole quick start ran 1.2x faster with two threads than with one on 2 cores), while two
independent units in two single-threaded processes keep both cores busy (1.4-1.8x faster than
one process with two threads; ``benchmarks/perf/quickstart_jobs.py``). With ``jobs > 1`` the
run plans as usual, starts ``jobs`` worker processes (:mod:`ropg.benchmark.worker`, each
planning the same run once) and hands each unit to one when every unit it reads is finished:
the longest chain of remaining work first, and preferably to the worker that computed its
inputs (their models and embeddings are still in its memory). The parent alone writes the
done markers, so resuming, skipping and fingerprints are exactly those of a one-process run.
Stages that run every time (the report) run in the parent after everything before them.

Each worker runs torch with ``cpu_count // jobs`` threads (unless ``OMP_NUM_THREADS`` is
set). Units must declare every unit whose outputs they read (``Unit.deps``): that is all the
order this scheduler keeps, and two units of a stage must not write one file. Plug-ins
(families, retrievers, generators) must be importable by the workers: named by
``module:Class`` paths or entry points, or registered when a module the run imports is
imported, not only in the calling script's ``main``.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ropg.benchmark.runner import Markers, Stage, StageReport, Unit, log_stage, plan_selected
from ropg.benchmark.worker import spec_digest
from ropg.errors import UserError

logger = logging.getLogger(__name__)


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity where the OS tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def threads_per_job(jobs: int) -> int:
    """torch threads per worker: the CPUs shared out, at least one."""
    return max(1, available_cpus() // max(jobs, 1))


AFFINITY_SECONDS = 1.0  # a dependency that ran this long on a worker left state worth reusing


@dataclass
class _Item:
    """A selected unit, the selected units it waits for, and its place in the plan."""

    stage: Stage
    unit: Unit
    waits: frozenset[tuple[str, str]]
    index: int
    priority: float = 0.0
    fingerprint: str = ""
    started: float = 0.0


def _items(planned: Sequence[tuple[Stage, list[Unit]]], markers: Markers) -> list[_Item]:
    """Every selected unit with what it waits for (its deps; for a stage that runs every time,
    every unit of the stages before it), and its priority: the longest chain of work that
    waits on it (a unit's cost: its seconds in an earlier run, else 1), longest first."""
    selected = {unit.ref for _, units in planned for unit in units}
    items: list[_Item] = []
    earlier: set[tuple[str, str]] = set()
    for stage, units in planned:
        for unit in units:
            waits = {dep for dep in unit.deps if dep in selected}
            if stage.always:
                waits |= earlier
            items.append(_Item(stage, unit, frozenset(waits), len(items)))
        earlier |= {unit.ref for unit in units}
    waiting: dict[tuple[str, str], list[_Item]] = {item.unit.ref: [] for item in items}
    for item in items:
        for ref in item.waits:
            waiting[ref].append(item)
    for item in reversed(items):  # waits point at earlier items only: one pass suffices
        marker = markers.read(item.unit.stage, item.unit.key)
        cost = float(marker.get("seconds") or 1.0) if marker else 1.0
        item.priority = cost + max((later.priority for later in waiting[item.unit.ref]),
                                   default=0.0)  # fmt: skip
    return items


@dataclass
class _Worker:
    """A ``python -m ropg.benchmark.worker`` process and the unit it is running."""

    process: subprocess.Popen
    number: int
    item: _Item | None = None

    def send(self, message: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()

    def receive(self) -> list[Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise EOFError
        return json.loads(line)


class ParallelRun:
    """The scheduler of one run with ``jobs`` worker processes (see the module docstring)."""

    def __init__(self, ctx: Any, planned: Sequence[tuple[Stage, list[Unit]]], jobs: int,
                 show_progress: bool) -> None:  # fmt: skip
        self.ctx = ctx
        self.jobs = jobs
        self.markers = Markers(ctx.run_dir / "state")
        self.pending = _items(planned, self.markers)
        self.reports = {stage.name: StageReport(stage.name) for stage, _ in planned}
        self.left = {stage.name: len(units) for stage, units in planned}
        self.spans: dict[str, list[float]] = {}
        self.finished: set[tuple[str, str]] = set()
        self.ran_on: dict[tuple[str, str], tuple[int, float]] = {}  # ref -> (worker, seconds)
        self.workers: list[_Worker] = []
        self.failure: BaseException | None = None
        self.show_progress = show_progress
        self.bar: Any = None

    def run(self) -> list[StageReport]:
        from multiprocessing.connection import wait

        from tqdm.auto import tqdm

        if os.name != "posix":
            raise UserError("config: jobs > 1 needs a POSIX system; use jobs=1")
        self.bar = tqdm(total=len(self.pending), desc=f"units ({self.jobs} jobs)", unit="unit",
                        disable=not self.show_progress, leave=True)  # fmt: skip
        try:
            while True:
                self._dispatch()
                busy = [worker for worker in self.workers if worker.item is not None]
                if not busy:
                    break
                for stream in wait([worker.process.stdout for worker in busy]):
                    self._collect(next(w for w in busy if w.process.stdout is stream))
        finally:
            self.bar.close()
            self._stop_workers()
        if self.failure is not None:
            raise self.failure
        if self.pending:
            names = ", ".join(f"{item.stage.name} {item.unit.key}" for item in self.pending[:3])
            raise RuntimeError(f"units never became ready (missing dependencies?): {names}")
        return list(self.reports.values())

    # -- choosing work ------------------------------------------------------------------------
    def _ready(self) -> list[_Item]:
        return [item for item in self.pending if item.waits <= self.finished]

    def _dispatch(self) -> None:
        """Skip every ready unit whose marker matches; hand ready units to idle workers; a
        stage that runs every time runs here, in the parent, once the workers are idle."""
        while self.failure is None:
            ready = self._ready()
            skipped = [item for item in ready if self._is_done(item)]
            for item in skipped:
                self.pending.remove(item)
                self.reports[item.stage.name].skipped += 1
                self._finish(item)
            if skipped:
                continue
            idle = [worker for worker in self._start_workers(ready) if worker.item is None]
            busy = len(self.workers) - len(idle)
            always = [item for item in ready if item.stage.always]
            if always and not busy:
                self._run_here(always[0])
                continue
            work = [item for item in ready if not item.stage.always]
            for worker in idle:
                if not work:
                    break
                item = max(work, key=lambda it, w=worker: self._preference(w, it))
                work.remove(item)
                self._send(worker, item)
            return

    def _is_done(self, item: _Item) -> bool:
        if not item.fingerprint:
            item.fingerprint = self.markers.fingerprint(item.unit)
        return self.markers.is_current(item.unit, item.fingerprint, item.stage.always)

    def _preference(self, worker: _Worker, item: _Item) -> tuple[bool, float, int]:
        """A unit whose inputs this worker just computed at some cost (a model or embeddings
        still in its memory), then the longest chain, then plan order."""
        here = [self.ran_on.get(dep, (-1, 0.0)) for dep in item.unit.deps]
        local = sum(seconds for number, seconds in here if number == worker.number)
        return local >= AFFINITY_SECONDS, item.priority, -item.index

    def _send(self, worker: _Worker, item: _Item) -> None:
        self.pending.remove(item)
        item.started = time.perf_counter()
        worker.item = item
        worker.send([item.unit.stage, item.unit.key, spec_digest(item.unit.spec)])
        logger.debug("job %d: %s %s starts", worker.number, item.stage.name, item.unit.key)
        self._show_running()

    def _run_here(self, item: _Item) -> None:
        self.pending.remove(item)
        item.started = time.perf_counter()
        info = item.unit.run() or {}
        self._done(item, info, time.perf_counter() - item.started)

    # -- results ------------------------------------------------------------------------------
    def _collect(self, worker: _Worker) -> None:
        item, worker.item = worker.item, None
        assert item is not None
        try:
            status, value, seconds = worker.receive()
        except (EOFError, OSError, ValueError):
            status, value, seconds = "error", "its worker process died (killed, out of memory?)", 0
        logger.debug("job %d: %s %s ends (%s)", worker.number, item.stage.name, item.unit.key,
                     status)  # fmt: skip
        if status == "ok":
            self.ran_on[item.unit.ref] = (worker.number, seconds)
            self._done(item, value, seconds)
        elif self.failure is None:  # the first failure stops new work; running units finish
            where = f"{item.stage.name} {item.unit.key}"
            self.failure = (
                UserError(value) if status == "user" else RuntimeError(f"{where}: {value}")
            )
            logger.error("%s failed; waiting for the units still running", where)
        self._show_running()

    def _done(self, item: _Item, info: dict[str, Any], seconds: float) -> None:
        self.markers.write(item.unit, item.fingerprint, info, seconds)
        report = self.reports[item.stage.name]
        report.ran += 1
        report.keys_run.append(item.unit.key)
        span = self.spans.setdefault(item.stage.name, [item.started, item.started])
        span[0], span[1] = min(span[0], item.started), time.perf_counter()
        self._finish(item)

    def _finish(self, item: _Item) -> None:
        self.finished.add(item.unit.ref)
        self.bar.update(1)
        name = item.stage.name
        self.left[name] -= 1
        if self.left[name] == 0:
            report = self.reports[name]
            started, ended = self.spans.get(name, (0.0, 0.0))
            report.seconds = ended - started
            log_stage(report)

    def _show_running(self) -> None:
        keys = [f"{w.item.stage.name} {w.item.unit.key}" for w in self.workers if w.item]
        self.bar.set_postfix_str(" | ".join(keys), refresh=True)

    # -- processes ----------------------------------------------------------------------------
    def _start_workers(self, ready: list[_Item]) -> list[_Worker]:
        """The workers, started (all at once) the first time a unit needs one."""
        if self.workers or not any(not item.stage.always for item in ready):
            return self.workers
        setup = {
            "config": self.ctx.config.to_dict(),
            "threads": threads_per_job(self.jobs),
            "log_levels": {name: logging.getLogger(name or None).getEffectiveLevel()
                           for name in ("", "ropg", "ropg.benchmark")},
            "sys_path": [entry for entry in sys.path if entry],
        }  # fmt: skip
        line = json.dumps(setup, default=str) + "\n"
        for number in range(self.jobs):
            process = subprocess.Popen(
                [sys.executable, "-m", "ropg.benchmark.worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                encoding="utf-8",
            )
            process.stdin.write(line)  # type: ignore[union-attr]
            process.stdin.flush()  # type: ignore[union-attr]  # it plans while others start
            self.workers.append(_Worker(process, number))
        return self.workers

    def _stop_workers(self) -> None:
        for worker in self.workers:
            try:
                worker.process.stdin.close()  # type: ignore[union-attr]  # end of input: stop
            except OSError:
                pass
        for worker in self.workers:
            try:
                worker.process.wait(timeout=5 if worker.item is None else 0.1)
            except subprocess.TimeoutExpired:
                worker.process.terminate()  # a unit still running after Ctrl-C or a failure
                worker.process.wait()
            if worker.process.stdout is not None:
                worker.process.stdout.close()


def run_stages_parallel(
    ctx: Any,
    stages: Sequence[Stage],
    selected: Sequence[str] | None,
    jobs: int,
    show_progress: bool = True,
) -> list[StageReport]:
    """Like :func:`ropg.benchmark.runner.run_stages`, with ``jobs`` worker processes.

    ``stages`` must be the run's own (``all_stages(config.family_list())``): the workers plan
    those again from the config.
    """
    planned = plan_selected(ctx, stages, selected)
    logger.info("running with %d worker processes, %d torch thread(s) each", jobs,
                threads_per_job(jobs))  # fmt: skip
    return ParallelRun(ctx, planned, jobs, show_progress).run()
