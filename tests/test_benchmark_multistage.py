"""The ``multistage`` family in a benchmark run: its table (multistage.md) from the pipeline's
rows, and its context builder as a table3 column of LaMP's generation tasks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from benchmark_fixtures import tiny_config

from ropg.benchmark import BenchmarkConfig, run_benchmark
from ropg.errors import UserError

ROOT = Path(__file__).resolve().parents[1]


def ms_values(root: Path, **section) -> dict:
    values = tiny_config(root, "ms", tasks=("LaMP-2", "LaMP-4"), limit=8)
    values["families"] = ["baselines", "multistage"]
    values.pop("ropg"), values.pop("rspg")
    values["llms"][0].pop("methods")
    values["multistage"] = {
        "config": str(ROOT / "benchmarks" / "configs" / "multistage.yaml"),
        "profile": "cpu",
        "overrides": {"rows": ["ImmedCtx", "RankDocBM25"], "train.max_steps": 10},
        **section,
    }
    return values


@pytest.fixture(scope="module")
def ms_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = BenchmarkConfig.from_dict(ms_values(tmp_path_factory.mktemp("ms")))
    run_benchmark(config, show_progress=False)
    return config.run_dir


def test_multistage_md_has_every_configured_row(ms_run: Path) -> None:
    table = (ms_run / "multistage.md").read_text(encoding="utf-8")
    assert "| Method | BLEU | R-1 | R-2 | R-L |" in table
    assert [line.split("|")[1].strip() for line in table.splitlines()[4:6]] == [
        "ImmedCtx", "RankDocBM25",
    ]  # fmt: skip
    rows = json.loads((ms_run / "multistage.json").read_text())["rows"]
    assert all(0 <= row["metrics"]["rouge-1"] <= 100 for row in rows)
    assert "Multistage pipeline" in (ms_run / "report.html").read_text(encoding="utf-8")
    # the pipeline shares the run's caches (its config names none): no second copy of a model
    assert not (ms_run / "multistage" / "cache").exists()
    assert (ms_run / "cache" / "generations.sqlite").is_file()


def test_the_context_builder_is_a_table3_column_of_generation_tasks(ms_run: Path) -> None:
    table = (ms_run / "table3.md").read_text(encoding="utf-8")
    assert "Multistage ctx" in table.splitlines()[4]
    lamp2 = next(line for line in table.splitlines() if line.startswith("| LaMP-2 | Acc"))
    assert lamp2.rstrip(" |").endswith("–")  # not a generation task
    lines = (ms_run / "feedback/reader/LaMP-4/dev.multistage.jsonl").read_text().splitlines()
    prompts = [json.loads(line)["prompt"] for line in lines[1:]]
    assert any("important words:" in prompt for prompt in prompts)
    bm25 = json.loads((ms_run / "predictions/reader/LaMP-4/bm25.json").read_text())
    ctx = json.loads((ms_run / "predictions/reader/LaMP-4/multistage-ctx.json").read_text())
    assert ctx["golds"] == bm25["golds"]  # the reader reads the items, not the fields


def test_multistage_settings_are_checked_at_load(tmp_path: Path) -> None:
    with pytest.raises(UserError):
        BenchmarkConfig.from_dict(ms_values(tmp_path, overrides={"rows": ["NoSuchRow"]}))
    with pytest.raises(UserError, match="lamp_retriever"):
        BenchmarkConfig.from_dict(ms_values(tmp_path, lamp_retriever="dense9"))
