"""Benchmark runs in process: outputs, stage skipping, changed settings, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from benchmark_fixtures import tiny_config, write_config

from ropg.benchmark import BenchmarkConfig, run_benchmark
from ropg.benchmark.config import apply_override
from ropg.cli.benchmark import main
from ropg.lamp import LampError, get_task, load_split
from ropg.lamp.synthetic import sample_path


def by_stage(reports) -> dict[str, tuple[int, int]]:
    return {report.stage: (report.ran, report.skipped) for report in reports}


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[BenchmarkConfig, list]:
    root = tmp_path_factory.mktemp("runs")
    config = BenchmarkConfig.from_dict(tiny_config(root))
    return config, run_benchmark(config, show_progress=False)


def test_a_run_writes_every_output(finished) -> None:
    config, reports = finished
    run = config.run_dir
    assert by_stage(reports)["rank"] == (2 * 4, 0)  # 2 tasks x 4 retrievers, eval split only
    assert (run / "config.yaml").is_file()
    assert BenchmarkConfig.load(run / "config.yaml").to_dict() == config.to_dict()
    table = (run / "table3.md").read_text(encoding="utf-8")
    assert "| LaMP-2 | Acc |" in table and "| LaMP-3 | MAE |" in table
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    scores = metrics["metrics"]["reader"]
    assert set(scores["LaMP-2"]) == {"none", "bm25", "recency", "rrf"}
    fingerprints = json.loads((run / "fingerprints.json").read_text(encoding="utf-8"))
    assert fingerprints["data"]["LaMP-2/dev"]["questions"]
    assert fingerprints["llms"]["reader"]["identity"]["backend"] == "reader"
    assert "source_blake2b" in fingerprints["code"]


def test_predictions_are_in_the_official_format(finished) -> None:
    config, _ = finished
    path = config.run_dir / "predictions" / "reader" / "LaMP-2" / "bm25.json"
    predictions = json.loads(path.read_text(encoding="utf-8"))
    assert predictions["task"] == get_task("LaMP-2").official_name
    split = load_split(sample_path(), "LaMP-2", "dev")
    ids = split.ids[: config.limit]
    assert [p["id"] for p in predictions["golds"]] == ids
    golds = [split[i].gold for i in ids]
    outputs = [p["output"] for p in predictions["golds"]]
    metrics = json.loads((config.run_dir / "metrics.json").read_text(encoding="utf-8"))
    expected = get_task("LaMP-2").evaluate(golds, outputs)
    assert metrics["metrics"]["reader"]["LaMP-2"]["bm25"] == pytest.approx(expected)


def test_a_rerun_skips_everything_and_writes_the_same_tables(finished) -> None:
    config, _ = finished
    before = {p: p.read_bytes() for p in config.run_dir.glob("*.md")}
    reports = run_benchmark(config, show_progress=False)
    for report in reports:
        assert report.ran == (1 if report.stage == "report" else 0), report
    assert {p: p.read_bytes() for p in config.run_dir.glob("*.md")} == before


def test_a_changed_setting_reruns_exactly_what_depends_on_it(tmp_path: Path) -> None:
    values = tiny_config(tmp_path, tasks=("LaMP-3",), limit=5)
    run_benchmark(BenchmarkConfig.from_dict(values), show_progress=False)
    apply_override(values, "k=3")  # the prompts change; rankings (top max(k, candidates)) do not
    reports = by_stage(run_benchmark(BenchmarkConfig.from_dict(values), show_progress=False))
    assert reports["rank"] == (0, 4)
    assert reports["generate"] == (1, 0)
    assert reports["evaluate"] == (4, 0)
    apply_override(values, "llms.0.generation.max_new_tokens=8")
    reports = by_stage(run_benchmark(BenchmarkConfig.from_dict(values), show_progress=False))
    assert reports["rank"] == (0, 4) and reports["generate"] == (1, 0)


def test_overrides_by_dotted_path() -> None:
    values = {"llms": [{"name": "a", "generation": {}}]}
    apply_override(values, "llms.0.generation.batch_size=8")
    apply_override(values, "tasks=[LaMP-2, LaMP-3]")
    apply_override(values, "ropg.overrides.epochs=2")
    assert values["llms"][0]["generation"]["batch_size"] == 8
    assert values["tasks"] == ["LaMP-2", "LaMP-3"]
    assert values["ropg"] == {"overrides": {"epochs": 2}}
    with pytest.raises(LampError, match="KEY=VALUE"):
        apply_override(values, "limit")
    with pytest.raises(LampError, match="not an index"):
        apply_override(values, "llms.3.name=x")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"tasks": ["LaMP-9"]}, "unknown task"),
        ({"colour": "red"}, "unknown config setting 'colour'"),
        ({"llms": []}, "at least one LLM"),
        ({"rspg": {"pool": ["bm25", "dense-x"]}}, "unknown retrievers"),
        ({"k": 0}, "k must be >= 1"),
    ],
)
def test_bad_configs_exit_2_naming_the_setting(tmp_path, capsys, change, message) -> None:
    config = write_config(tmp_path / "bad.yaml", {**tiny_config(tmp_path), **change})
    assert main(["--config", str(config), "--no-progress", "-q"]) == 2
    error = capsys.readouterr().err
    assert message in error and "Traceback" not in error


def test_bad_data_exits_2_naming_the_file(tmp_path, capsys) -> None:
    config = write_config(tmp_path / "c.yaml", tiny_config(tmp_path, data=str(tmp_path / "nope")))
    assert main(["--config", str(config), "--no-progress", "-q"]) == 2
    assert "nope" in capsys.readouterr().err


def test_unknown_stage_is_refused(tmp_path, capsys) -> None:
    config = write_config(tmp_path / "c.yaml", tiny_config(tmp_path))
    assert main(["--config", str(config), "--stages", "rank,fly", "-q"]) == 2
    assert "unknown stage" in capsys.readouterr().err


def planned(values: dict) -> dict[str, dict[str, dict]]:
    """``{stage: {unit key: spec}}`` of every stage, planned without running anything."""
    from ropg.benchmark.context import RunContext
    from ropg.benchmark.runner import plan_run
    from ropg.benchmark.stages import all_stages

    config = BenchmarkConfig.from_dict(values)
    ctx = RunContext(config, show_progress=False)
    return {
        stage.name: {unit.key: unit.spec for unit in units}
        for stage, units in plan_run(ctx, all_stages(config.family_list()))
    }


def test_the_train_split_gets_only_what_rspg_and_ropg_read(tmp_path: Path) -> None:
    values = tiny_config(tmp_path, tasks=("LaMP-2",), encoder=tmp_path / "enc", rspg=True)
    units = planned(values)
    # RSPG's pool is none, bm25, contriever, ropg-kd; ROPG's candidates come from contriever
    assert sorted(k for k in units["rank"] if "/train/" in k) == [
        "LaMP-2/train/bm25", "LaMP-2/train/contriever", "LaMP-2/train/none",
    ]  # fmt: skip
    assert len([k for k in units["rank"] if "/dev/" in k]) == 5  # the eval split: all
    assert units["generate"]["reader/LaMP-2/train"]["retrievers"] == ["none", "bm25", "contriever"]
    assert units["generate"]["reader/LaMP-2/dev"]["retrievers"] == [
        "none", "bm25", "recency", "contriever", "rrf",
    ]  # fmt: skip
    assert sorted(units["ropg-rank"]) == [
        "LaMP-2/dev/ropg-kd@reader", "LaMP-2/dev/ropg-rl@reader", "LaMP-2/train/ropg-kd@reader",
    ]  # fmt: skip
    assert units["ropg-generate"]["reader/LaMP-2/train"]["retrievers"] == ["ropg-kd"]


def test_rspg_with_an_empty_pool_plans_nothing(tmp_path: Path) -> None:
    values = tiny_config(tmp_path, tasks=("LaMP-2",))
    values["llms"][0]["methods"] = ["baselines", "rspg"]
    values["rspg"] = {"modes": ["pre", "post"], "pool": []}
    units = planned(values)
    assert not units["rspg-train"] and not units["rspg-select"] and not units["rspg-evaluate"]
    assert not [k for k in units["rank"] if "/train/" in k]
    assert list(units["generate"]) == ["reader/LaMP-2/dev"]
    assert BenchmarkConfig.from_dict(values) and run_benchmark(
        BenchmarkConfig.from_dict(values), show_progress=False
    )  # it runs to the report
