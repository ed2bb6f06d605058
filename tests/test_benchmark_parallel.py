"""``jobs: N``: units in worker processes, in dependency order, with one-process results."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from benchmark_fixtures import save_tiny_bert, tiny_config

from ropg.benchmark import BenchmarkConfig, run_benchmark
from ropg.errors import UserError
from ropg.multistage.rows import row_prerequisites

PAPER_ROWS = ["ImmedCtx", "RankDocBM25", "RankDocBySnpt", "+SumCtxInd", "+SumCtx", "+SynCtx",
              "+AuthorPred"]  # fmt: skip


def sleep_config(tmp_path: Path, **section: object) -> BenchmarkConfig:
    values = tiny_config(tmp_path, "par", tasks=("LaMP-2",))
    values["families"] = ["parallel_family:SleepFamily"]
    values["llms"][0]["methods"] = ["par"]
    for name in ("ropg", "rspg"):
        values.pop(name)
    values.update(jobs=2, par=dict(section))
    return BenchmarkConfig.from_dict(values, tmp_path)


def unit_record(run_dir: Path, key: str) -> dict:
    return json.loads((run_dir / "par" / f"{key}.json").read_text())


def without_title(text: str) -> str:
    """A table file without its title (which names the run)."""
    return "\n".join(line for line in text.splitlines() if not line.startswith("# "))


def test_independent_units_run_at_once_in_workers_and_a_dependent_one_after(tmp_path) -> None:
    config = sleep_config(tmp_path)
    reports = {report.stage: report for report in run_benchmark(config, show_progress=False)}
    assert (reports["par-a"].ran, reports["par-b"].ran) == (2, 1)
    a1, a2, b = (unit_record(config.run_dir, key) for key in ("a1", "a2", "b"))
    assert os.getpid() not in {a1["pid"], a2["pid"], b["pid"]}  # worker processes ran them
    assert a1["pid"] != a2["pid"]
    assert a1["start"] < a2["end"] and a2["start"] < a1["end"]  # at the same time
    assert b["start"] >= max(a1["end"], a2["end"])  # after both of its dependencies
    markers = config.run_dir / "state"
    assert {p.name for p in (markers / "par-a").iterdir()} == {"a1.json", "a2.json"}
    again = {report.stage: report for report in run_benchmark(config, show_progress=False)}
    assert (again["par-a"].skipped, again["par-b"].skipped, again["par-b"].ran) == (2, 1, 0)
    assert unit_record(config.run_dir, "b") == b  # nothing ran again


def test_a_unit_failing_in_a_worker_stops_the_run_with_its_error(tmp_path) -> None:
    config = sleep_config(tmp_path, fail="user")
    with pytest.raises(UserError, match="a2: the settings say this unit fails"):
        run_benchmark(config, show_progress=False)
    markers = config.run_dir / "state"
    assert (markers / "par-a" / "a1.json").is_file()  # what finished is kept for the re-run
    assert not (markers / "par-a" / "a2.json").exists()
    assert not (markers / "par-b").exists()  # its dependency failed: never started


def test_an_unexpected_error_in_a_worker_names_the_unit_and_keeps_the_traceback(tmp_path):
    config = sleep_config(tmp_path, fail="crash", seconds=0.1)
    with pytest.raises(RuntimeError, match=r"par-a a2") as raised:
        run_benchmark(config, show_progress=False)
    assert "ValueError: a2 crashed" in str(raised.value)


def test_jobs_must_be_positive(tmp_path) -> None:
    values = tiny_config(tmp_path, "bad", jobs=0)
    with pytest.raises(UserError, match="jobs must be >= 1"):
        BenchmarkConfig.from_dict(values, tmp_path)


def test_two_jobs_give_the_tables_of_one_process_with_the_same_torch_threads(tmp_path):
    import torch

    encoder = save_tiny_bert(tmp_path / "bert")
    outputs = {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # what each of two workers gets on 2 CPUs
    try:
        for jobs in (1, 2):
            values = tiny_config(tmp_path, f"jobs{jobs}", encoder=encoder, rspg=True, jobs=jobs)
            config = BenchmarkConfig.from_dict(values, tmp_path)
            run_benchmark(config, show_progress=False)
            outputs[jobs] = {
                name: without_title((config.run_dir / name).read_text(encoding="utf-8"))
                for name in ("table3.md", "selectors.md")
            }
            metrics = json.loads((config.run_dir / "metrics.json").read_text(encoding="utf-8"))
            metrics.pop("run")
            outputs[jobs]["metrics"] = json.dumps(metrics, sort_keys=True)
    finally:
        torch.set_num_threads(threads)
    assert "ROPG-KD" in outputs[2]["table3.md"] and "RSPG-Post" in outputs[2]["table3.md"]
    assert outputs[2] == outputs[1]


def test_multistage_rows_wait_for_the_row_that_first_computes_what_they_reuse() -> None:
    earlier = row_prerequisites(PAPER_ROWS, "RankDocBySnpt")
    assert earlier["ImmedCtx"] == earlier["RankDocBM25"] == earlier["RankDocBySnpt"] == []
    assert earlier["+SumCtxInd"] == earlier["+SumCtx"] == ["RankDocBySnpt"]  # base ranking
    assert earlier["+SynCtx"] == ["RankDocBySnpt", "+SumCtx"]  # + weak labels
    assert earlier["+AuthorPred"] == ["RankDocBySnpt", "+SumCtx", "+SynCtx"]  # + keyword model
    # a base ranking of its own: the summary rows reuse RankDocBM25's ranking
    assert row_prerequisites(["RankDocBM25", "+SumCtx"], "RankDocBM25")["+SumCtx"] == [
        "RankDocBM25"
    ]
