"""One plain function per stage: a config in, its artifact written (resumably), facts out.

Every function takes a :class:`~ropg.multistage.config.MultistageConfig` (its ``work_dir`` is
where artifacts go; ``work_dir=`` overrides it), runs what it needs of the earlier stages (each
reused when already done) and returns a small JSON-able dict. A benchmark family can call them
as its units of work::

    from ropg.multistage import api
    from ropg.multistage.config import MultistageConfig

    config = MultistageConfig.load("benchmarks/configs/multistage.yaml", profile="cpu")
    api.build_data(config)                       # {"counts": {...}, "users": {...}, ...}
    api.rank(config, "RankDocBySnpt", "test")    # {"path": ..., "examples": ...}
    api.train_stage(config, "summarizer")        # {"model_dir": ..., "completed": True, ...}
    rows = api.table_rows(config)                # the paper's rows, with per-example scores
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import Any

from ropg.errors import UserError
from ropg.multistage.config import MultistageConfig
from ropg.multistage.rows import get_row

STAGES = ("summarizer", "keywords", "generator", "author")


def _workspace(config: MultistageConfig, work_dir: str | None) -> Any:
    from ropg.multistage.workspace import Workspace

    if work_dir is not None:
        config = dataclasses.replace(config, work_dir=str(work_dir))
    return Workspace(config)


@contextlib.contextmanager
def _main_process_first() -> Iterator[None]:
    """Accelerate's ``main_process_first`` when several processes were launched."""
    from ropg.utils.distributed import launched_processes, process_state

    if launched_processes() <= 1:
        yield
        return
    with process_state().main_process_first():
        yield


def build_data(config: MultistageConfig, work_dir: str | None = None) -> dict[str, Any]:
    """Build the passage-completion splits; their counts, users and directory."""
    return _workspace(config, work_dir).build_data()


def rank(
    config: MultistageConfig, strategy: str, split: str, work_dir: str | None = None
) -> dict[str, Any]:
    """Rank ``split`` with ``strategy``; how many examples and the mean context length."""
    from ropg.multistage.stages import rank_stage

    records = rank_stage(_workspace(config, work_dir), strategy, split)
    lengths = [len(record["text"]) for record in records.values()]
    return {
        "strategy": strategy,
        "split": split,
        "examples": len(records),
        "mean_chars": sum(lengths) / len(lengths) if lengths else 0.0,
    }


def keywords(
    config: MultistageConfig, split: str, kind: str = "ctxind", work_dir: str | None = None
) -> dict[str, Any]:
    """Important words of ``split``: ``ctxind`` (rules) or ``ctx`` (the trained model)."""
    from ropg.multistage.stages import keywords_ctxind_stage, stage_predictions

    ws = _workspace(config, work_dir)
    found = (
        keywords_ctxind_stage(ws, split)
        if kind == "ctxind"
        else stage_predictions(ws, "keywords", split)
    )
    return {"kind": kind, "split": split, "examples": len(found)}


def summaries(
    config: MultistageConfig, split: str, kind: str = "ctxind", work_dir: str | None = None
) -> dict[str, Any]:
    """Summaries of ``split``: ``ctxind`` (a generator) or ``ctx`` (the trained summarizer)."""
    from ropg.multistage.stages import stage_predictions, summaries_ctxind_stage

    ws = _workspace(config, work_dir)
    found = (
        summaries_ctxind_stage(ws, split)
        if kind == "ctxind"
        else stage_predictions(ws, "summarizer", split)
    )
    return {"kind": kind, "split": split, "examples": len(found)}


def train_stage(
    config: MultistageConfig, stage: str, row: str | None = None, work_dir: str | None = None
) -> dict[str, Any]:
    """Train ``summarizer``, ``keywords``, ``generator`` (of ``row``, default the last row)
    or ``author`` (the +AuthorPred generator); where the model is and whether it finished.

    Under ``accelerate launch`` the main process prepares the inputs (rankings, weak labels,
    stage outputs) first; then every process trains."""
    from ropg.multistage.generate import row_job
    from ropg.multistage.stages import stage_job

    if stage not in STAGES:
        raise UserError(f"unknown stage {stage!r}; choose one of {STAGES}")
    ws = _workspace(config, work_dir)
    with _main_process_first():  # under accelerate launch: inputs are prepared once
        if stage in ("summarizer", "keywords"):
            job = stage_job(ws, stage)
        else:
            job = row_job(
                ws, get_row("+AuthorPred" if stage == "author" else row or config.rows[-1])
            )
    result = job.run()
    facts = {key: value for key, value in result.facts.items() if key != "key"}
    return {
        "stage": stage,
        "model_dir": str(result.model_dir),
        "completed": result.completed,
        **facts,
    }


def generate(
    config: MultistageConfig, row: str, split: str | None = None, work_dir: str | None = None
) -> dict[str, Any]:
    """Generate ``row``'s continuations for ``split`` (default ``eval_split``)."""
    from ropg.multistage.generate import generate_row

    outputs = generate_row(_workspace(config, work_dir), get_row(row), split or config.eval_split)
    return {"row": row, "split": split or config.eval_split, "examples": len(outputs)}


def evaluate(config: MultistageConfig, row: str, work_dir: str | None = None) -> dict[str, Any]:
    """Score ``row`` on ``eval_split``: metrics (and author accuracy), without per-example
    values."""
    from ropg.multistage.generate import score_row

    scored = score_row(_workspace(config, work_dir), get_row(row))
    return {key: value for key, value in scored.items() if key not in ("ids", "per_example")}


def table_rows(config: MultistageConfig, work_dir: str | None = None) -> list[dict[str, Any]]:
    """The paper's rows (metrics in %, per-example values, p-values against ImmedCtx)."""
    from ropg.multistage.table import table_rows as rows_of

    if work_dir is not None:
        config = dataclasses.replace(config, work_dir=str(work_dir))
    return rows_of(config)


def run_pipeline(config: MultistageConfig, work_dir: str | None = None) -> dict[str, Any]:
    """Everything, then ``multistage.md``/``.json`` under ``work_dir``."""
    from ropg.multistage.table import run_pipeline as run

    if work_dir is not None:
        config = dataclasses.replace(config, work_dir=str(work_dir))
    return run(config)
