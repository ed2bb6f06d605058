"""``ropg compare`` on real small runs: exactly the changed setting is named, the differences
come with the paired tests' p-values (recomputed here from the scores files), runs on
different examples get the plain difference, and bad run directories exit 2 in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from benchmark_fixtures import tiny_config
from reports_fixtures import markdown_rows, run

from ropg.benchmark.tables import METRIC_LABELS, format_value
from ropg.cli.compare import main
from ropg.lamp.stats import metric_p_value, paired_test_label
from ropg.reports.compare import NOT_PAIRED, compare_metrics, differences
from ropg.reports.run_data import load_run


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three baseline runs of the same name in different places: A, B (k=3), C (limit=6)."""
    root = tmp_path_factory.mktemp("compare")
    return {
        "a": run(tiny_config(root / "a")),
        "b": run(tiny_config(root / "b", k=3)),
        "c": run(tiny_config(root / "c", limit=6)),
    }


def sections(markdown: str) -> dict[str, str]:
    parts = markdown.split("\n## ")
    return {part.splitlines()[0]: part for part in parts[1:]}


def test_compare_names_exactly_the_changed_setting_and_gives_p_values(runs, capsys) -> None:
    assert main([str(runs["a"]), str(runs["b"])]) == 0
    out = sections(capsys.readouterr().out)
    settings = markdown_rows(out["Settings that differ (config.yaml)"])
    assert settings == [["Path", "A", "B"], ["k", "2", "3"]]
    assert (
        "No fingerprint differs." in out["Fingerprints that differ (data, models, code, libraries)"]
    )
    table = markdown_rows(out["Metrics"])
    scores = {name: load_run(path) for name, path in runs.items()}
    checked = changed = 0
    for task, metric_label, method_label, a, b, delta, p, test, verdict in table:
        metric = next(key for key, label in METRIC_LABELS.items() if label == metric_label)
        method = {"No pers.": "none", "BM25": "bm25", "Recency": "recency", "RRF": "rrf"}[
            method_label
        ]
        score_a = scores["a"].scores["reader"][task][method]
        score_b = scores["b"].scores["reader"][task][method]
        assert (a, b) == (
            format_value(score_a.metrics[metric]),
            format_value(score_b.metrics[metric]),
        )
        assert delta == f"{score_b.metrics[metric] - score_a.metrics[metric]:+.3f}"
        expected = metric_p_value(metric, score_b.per_example, score_a.per_example, seed=0)
        assert p == ("<0.001" if expected < 0.001 else f"{expected:.3f}")
        assert test == paired_test_label(metric)
        assert verdict in ("B better", "B worse", "no significant difference")
        checked += 1
        changed += delta not in ("+0.000", "-0.000")
    assert checked == 2 * 4 * 2  # 2 tasks x 4 methods x 2 metrics, every one tested
    assert changed  # k changes the prompts: some numbers move


def test_runs_on_different_examples_get_the_plain_difference(runs, tmp_path, capsys) -> None:
    a, c = load_run(runs["a"]), load_run(runs["c"])
    assert differences(a.config, c.config, ignore=("name", "output_root", "base_dir")) == [
        ("limit", 8, 6)
    ]
    rows = compare_metrics(a, c)
    assert rows and all(row.p is None and row.note == NOT_PAIRED for row in rows)
    assert all(row.difference is not None for row in rows)
    page = tmp_path / "compare.html"
    assert main([str(runs["a"]), str(runs["c"]), "--html", str(page)]) == 0
    out = sections(capsys.readouterr().out)
    fingerprints = markdown_rows(out["Fingerprints that differ (data, models, code, libraries)"])
    assert ["data.LaMP-2/dev.limit", "8", "6"] in fingerprints
    assert NOT_PAIRED in out["Metrics"]
    html = page.read_text(encoding="utf-8")
    assert "Settings that differ" in html and NOT_PAIRED in html and "<table" in html


def test_missing_and_foreign_run_directories_exit_2_in_one_line(runs, tmp_path, capsys) -> None:
    assert main([str(tmp_path / "nope"), str(runs["a"])]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "no such run directory" in error
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("hello", encoding="utf-8")
    assert main([str(runs["a"]), str(tmp_path / "other")]) == 2
    error = capsys.readouterr().err
    assert "not a ropg run directory" in error and "Traceback" not in error
    (tmp_path / "other" / "metrics.json").write_text(json.dumps({"a": 1}), encoding="utf-8")
    assert main([str(runs["a"]), str(tmp_path / "other")]) == 2
    assert "not a ropg benchmark's metrics.json" in capsys.readouterr().err
