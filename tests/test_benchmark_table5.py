"""The paper's Table 5 from one run: RSPG with and without the ROPG retrievers in its pool,
and the oracle bounds, with every metric."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from benchmark_fixtures import save_tiny_bert, tiny_config

from ropg.benchmark import BenchmarkConfig, run_benchmark
from ropg.errors import UserError
from ropg.lamp import get_task, load_split
from ropg.lamp.synthetic import sample_path


@pytest.fixture(scope="module")
def table5_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("t5")
    encoder = save_tiny_bert(root / "enc")
    values = tiny_config(root, "t5", tasks=("LaMP-2", "LaMP-3"), encoder=encoder, rspg=True)
    values["rspg"]["table5"] = True
    config = BenchmarkConfig.from_dict(values)
    run_benchmark(config, show_progress=False)
    return config.run_dir


def test_table5_has_both_pools_and_the_oracle_with_every_metric(table5_run: Path) -> None:
    table = (table5_run / "table5.md").read_text(encoding="utf-8")
    header = next(line for line in table.splitlines() if "w/o ROPG" in line)
    assert header.count("w/o ROPG") == 2 and "RSPG-Pre" in header and "RSPG-Post" in header
    rows = [line.split("|") for line in table.splitlines() if line.startswith("| LaMP-")]
    for metric in ("Acc", "F1", "MAE", "RMSE"):  # in the RSPG table and the oracle table
        assert sum(cells[2].strip() == metric for cells in rows) == 2
    assert (table5_run / "table5.tex").is_file()  # and a section of report.html
    assert "Table 5" in (table5_run / "report.html").read_text(encoding="utf-8")
    # the w/o-ROPG selectors chose only among the baselines of the pool
    chosen = json.loads((table5_run / "selection/reader/LaMP-2/rspg-pre-noropg.json").read_text())[
        "selected"
    ]
    assert set(chosen.values()) <= {"none", "bm25", "contriever"}


def test_oracle_bounds_are_the_best_and_worst_retriever_per_input(table5_run: Path) -> None:
    upper = json.loads((table5_run / "scores/reader/LaMP-2/oracle-upper.json").read_text())
    lower = json.loads((table5_run / "scores/reader/LaMP-2/oracle-lower.json").read_text())
    assert set(upper["metrics"]) == {"accuracy", "f1"}
    assert upper["metrics"]["accuracy"] >= lower["metrics"]["accuracy"]
    lines = (table5_run / "feedback/reader/LaMP-2/dev.rspg.jsonl").read_text().splitlines()
    header, pool = json.loads(lines[0])["ropg_feedback"], [json.loads(line) for line in lines[1:]]
    split = load_split(sample_path(), "LaMP-2", "dev").head(len(pool))
    best = []  # the first retriever of the pool with the highest score
    for record in pool:
        entries = [record["retrievers"][name] for name in header["retrievers"]]
        best.append(max(entries, key=lambda entry: entry["score"])["output"])
    expected = get_task("LaMP-2").evaluate(split.golds(), best)
    assert upper["metrics"] == pytest.approx(expected)
    rmse = json.loads((table5_run / "scores/reader/LaMP-3/oracle-upper.json").read_text())
    assert set(rmse["metrics"]) == {"MAE", "RMSE"}


def test_table5_columns_stay_out_of_table3(table5_run: Path) -> None:
    table3 = (table5_run / "table3.md").read_text(encoding="utf-8")
    assert "w/o ROPG" not in table3 and "Oracle" not in table3


def test_the_ablation_pool_must_be_part_of_the_pool(tmp_path: Path) -> None:
    values = tiny_config(tmp_path, encoder=tmp_path / "enc", rspg=True)
    values["rspg"].update(table5=True, ablation_pool=["none", "recency"])
    with pytest.raises(UserError, match="ablation_pool"):
        BenchmarkConfig.from_dict(values)
