"""Small real benchmark runs for the ``test_reports_*`` files (imported, not a conftest)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from benchmark_fixtures import save_tiny_bert, tiny_config

ARTIFACTS = Path(os.environ.get("ROPG_TEST_ARTIFACTS") or Path(__file__).parent / "artifacts")


def quickstart_like_config(root: Path, name: str = "quick") -> dict[str, Any]:
    """The quick start's shape, cut to seconds: the retrieval-only reader on two tasks (a
    classification and a rating task), the lexical baseline pool and RRF, and the RSPG
    selectors (pre and post, on a tiny random BERT) with their QPP baselines, oracle bounds and
    winning rates. (No dense retriever: embedding the profiles would triple the time.)"""
    encoder = root / "encoder"
    if not encoder.exists():
        save_tiny_bert(encoder)
    values = tiny_config(root, name, tasks=("LaMP-2", "LaMP-3"), encoder=encoder, rspg=True)
    values["llms"][0]["label"] = "Retrieval-only reader"
    values["llms"][0]["methods"] = ["baselines", "rspg"]
    del values["retrievers"]["contriever"]
    values["rspg"]["pool"] = ["none", "bm25", "recency"]
    return values


def run(values: dict[str, Any]) -> Path:
    """Run the benchmark (in process) and return the run directory."""
    from ropg.benchmark import BenchmarkConfig, run_benchmark

    config = BenchmarkConfig.from_dict(values)
    run_benchmark(config, show_progress=False)
    return config.run_dir


def artifact_dir() -> Path:
    """Where tests keep what a person may want to look at (``$ROPG_TEST_ARTIFACTS`` or
    ``tests/artifacts/``, which git ignores through its own ``.gitignore``)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    ignore = ARTIFACTS / ".gitignore"
    if ARTIFACTS == Path(__file__).parent / "artifacts" and not ignore.exists():
        ignore.write_text("*\n", encoding="utf-8")
    return ARTIFACTS


def markdown_rows(markdown: str) -> list[list[str]]:
    """The body rows of every Markdown table in ``markdown`` (cells stripped)."""
    rows = []
    for line in markdown.splitlines():
        if line.startswith("|") and not re.fullmatch(r"\|(---\|)+", line):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return [row for row in rows if row and row[0] not in ("Task", "")]
