"""The ``rpo`` family in a benchmark run: g, contexts on input+g, trajectories -> SFT -> RL, the
retrieval x reflection grid (rows: none, a pool retriever, RSPG's choice) and ``rpo.md``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from benchmark_fixtures import save_tiny_bert, tiny_config

from ropg.benchmark import BenchmarkConfig, run_benchmark
from ropg.errors import UserError

RPO = {
    "retriever": "bm25",
    "rows": ["none", "bm25", "rspg"],
    "sft": {"lora": "false", "lr": 5e-3, "per_device_batch_size": 4, "effective_batch_size": 4},
    "rl": {"lora": "false", "lr": 1e-3, "num_generations": 2, "prompts_per_step": 4,
           "per_device_batch_size": 8, "max_completion_length": 16, "curriculum": ["2", "4"]},
    "reflection_generation": {"max_new_tokens": 24},
    "limit_train": 8,
}  # fmt: skip


def rpo_values(root: Path) -> dict:
    encoder = save_tiny_bert(root / "enc")
    values = tiny_config(root, "rpo", tasks=("LaMP-2",), encoder=encoder, rspg=True, limit=8)
    values["families"] = ["baselines", "ropg", "rspg", "rpo"]
    values["llms"][0]["methods"] = ["baselines", "ropg", "rspg", "rpo"]
    values["rpo"] = dict(RPO)
    return values


@pytest.fixture(scope="module")
def rpo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    root = tmp_path_factory.mktemp("rpo")
    config = BenchmarkConfig.from_dict(rpo_values(root))
    return config.run_dir, run_benchmark(config, show_progress=False)


def test_rpo_md_has_the_columns_and_the_grid(rpo_run) -> None:
    run, _ = rpo_run
    text = (run / "rpo.md").read_text(encoding="utf-8")
    header = next(line for line in text.splitlines() if line.startswith("| Task"))
    assert [c.strip() for c in header.split("|")[3:-1]] == [
        "Zero-shot", "RAG", "RPO w/o RL", "RPO",
    ]  # fmt: skip
    grids = text.split("#### ")[1:]  # one per task and metric
    assert [grid.splitlines()[0] for grid in grids] == [
        "LaMP-2 (Acc): retrieval × reflection", "LaMP-2 (F1): retrieval × reflection",
    ]  # fmt: skip
    rows = [line.split("|")[1].strip() for line in grids[0].splitlines() if line.startswith("| ")]
    assert rows[1:] == ["none", "bm25", "rspg"]  # after the header row
    assert "| LaMP-2 | F1 |" in text  # every metric of the task
    assert "Reflections that fell back to g (LaMP-2): none SFT " in text  # counted, reported


def test_the_main_columns_are_the_training_retrievers_grid_row(rpo_run) -> None:
    run, _ = rpo_run
    scores = run / "scores" / "reader" / "LaMP-2"

    def outputs(name: str) -> list[str]:
        predictions = json.loads((run / "predictions/reader/LaMP-2" / name).read_text())
        return [p["output"] for p in predictions["golds"]]

    assert outputs("rpo.json") == outputs("rpo-grid_bm25_rl.json")
    assert outputs("rpo-rag.json") == outputs("rpo-grid_bm25_none.json")
    assert (scores / "rpo-zero-shot.json").is_file()
    # the RSPG row replays the items RSPG-Pre chose for each input
    contexts = json.loads((run / "models/reader/LaMP-2/rpo/dev/contexts.rspg.json").read_text())
    selection = json.loads((run / "selection/reader/LaMP-2/rspg-pre.json").read_text())
    assert set(contexts["rankings"]) == set(selection["selected"])


def test_a_second_run_redoes_nothing(rpo_run) -> None:
    run, _ = rpo_run
    config = BenchmarkConfig.load(run / "config.yaml")
    again = run_benchmark(config, show_progress=False)
    assert all(r.ran == 0 for r in again if r.stage != "report"), [(r.stage, r.ran) for r in again]


def test_rpo_settings_are_checked_at_load(tmp_path: Path) -> None:
    values = tiny_config(tmp_path, tasks=("LaMP-2",))
    values["families"] = ["baselines", "rpo"]
    values.pop("ropg"), values.pop("rspg")
    values["llms"][0].pop("methods")
    for bad, message in (
        ({"query": "title"}, "rpo.query"),
        ({"retriever": "dense9"}, "rpo.retriever"),
        ({"sft": {"epoch": 3}}, "epoch"),
        ({"tasks": ["LaMP-5"]}, "rpo.tasks"),
    ):
        values["rpo"] = {"retriever": "bm25", **bad}
        with pytest.raises(UserError, match=message):
            BenchmarkConfig.from_dict(values)
