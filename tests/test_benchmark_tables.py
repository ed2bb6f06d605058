"""The paper-style table writer: value format, best-in-row, significance markers, legend."""

from __future__ import annotations

import numpy as np
import pytest

from ropg.benchmark.tables import (
    Cell,
    ResultTable,
    Row,
    best_methods,
    format_value,
    marker_letters,
    render_grid,
    render_results,
    significance_against,
)

COLUMNS = [("none", "No pers."), ("bm25", "BM25"), ("ropg-kd", "ROPG-KD")]


def table(rows: list[Row], **kwargs) -> ResultTable:
    return ResultTable("LLM", COLUMNS, ["none", "bm25"], rows, **kwargs)


def cells_of(markdown: str, task: str, metric: str) -> list[str]:
    line = next(line for line in markdown.splitlines() if line.startswith(f"| {task} | {metric} |"))
    return [cell.strip() for cell in line.strip("|").split("|")][2:]


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.5021, ".502"), (0.0, ".000"), (1.3589, "1.359"), (None, "–"), (float("nan"), "–")],
)
def test_values_are_written_like_the_paper(value, text) -> None:
    assert format_value(value) == text


def test_best_in_row_is_bold_and_follows_the_metric_direction() -> None:
    rows = [
        Row("LaMP-1", "accuracy", {"none": Cell(0.5), "bm25": Cell(0.62), "ropg-kd": Cell(0.6)}),
        Row("LaMP-3", "MAE", {"none": Cell(0.31), "bm25": Cell(0.29), "ropg-kd": Cell(0.30)}),
    ]
    markdown = render_results(table(rows))
    assert cells_of(markdown, "LaMP-1", "Acc") == [".500", "**.620**", ".600"]
    assert cells_of(markdown, "LaMP-3", "MAE") == [".310", "**.290**", ".300"]


def test_ties_at_the_shown_precision_are_all_bold_and_missing_methods_are_dashes() -> None:
    row = Row("LaMP-4", "rouge-1", {"none": Cell(0.18301), "bm25": Cell(0.18349)})
    assert best_methods(row) == {"none", "bm25"}
    assert cells_of(render_results(table([row])), "LaMP-4", "R-1") == ["**.183**", "**.183**", "–"]


def test_markers_name_each_beaten_baseline_in_column_order() -> None:
    row = Row(
        "LaMP-2",
        "accuracy",
        {
            "none": Cell(0.3),
            "bm25": Cell(0.35, ("none",)),
            "ropg-kd": Cell(0.4, ("bm25", "none")),
        },
    )
    markdown = render_results(table([row], alpha=0.01))
    assert cells_of(markdown, "LaMP-2", "Acc") == [
        ".300",
        ".350<sup>a</sup>",
        "**.400**<sup>ab</sup>",
    ]
    assert "a = No pers., b = BM25" in markdown
    assert "p < 0.01" in markdown


def test_marker_letters_refuse_too_many_baselines() -> None:
    assert marker_letters(["x", "y"]) == {"x": "a", "y": "b"}
    with pytest.raises(ValueError):
        marker_letters([str(i) for i in range(27)])


def test_significance_uses_mcnemar_for_accuracy_and_the_metric_direction() -> None:
    rng = np.random.default_rng(0)
    baseline = (rng.random(200) < 0.4).astype(float)
    better = baseline.copy()
    better[np.flatnonzero(baseline == 0)[:40]] = 1.0  # 40 more right, none lost
    significant, p = significance_against("accuracy", better, baseline, 0.05)
    assert significant and p < 1e-6
    worse_significant, _ = significance_against("accuracy", baseline, better, 0.05)
    assert not worse_significant  # significantly different but worse: no marker
    errors = rng.random(200)
    assert significance_against("MAE", errors * 0.5, errors, 0.05)[0]  # lower MAE is better
    assert not significance_against("MAE", errors * 1.5, errors, 0.05)[0]
    assert not significance_against("rouge-1", errors, errors, 0.05)[0]


def test_small_differences_are_not_marked() -> None:
    rng = np.random.default_rng(1)
    values = rng.random(30)
    noisy = values + rng.normal(0, 0.2, 30) + 0.001
    assert not significance_against("rouge-1", noisy, values, 0.05)[0]


def test_grid_bolds_the_row_maximum() -> None:
    markdown = render_grid(
        "Success", [("pre", "Pre"), ("wig", "WIG")], [("LaMP-1", {"pre": 0.7, "wig": 0.5})]
    )
    assert "| LaMP-1 | **.700** | .500 |" in markdown
    plain = render_grid("Oracle", [("upper", "upper")], [("LaMP-1", {})], bold_max=False)
    assert "| LaMP-1 | – |" in plain


# -- every row gets markers: F1 and RMSE with a paired randomization test -----------------------
def movie_tag_values(seed: int, golds: list[str] | None, right: float, n: int = 300):
    from ropg.lamp import get_task

    task = get_task("LaMP-2")
    labels = task.metric.labels
    rng = np.random.default_rng(seed)
    golds = golds or [labels[i] for i in rng.integers(0, len(labels), n)]
    preds = [g if rng.random() < right else labels[rng.integers(0, len(labels))] for g in golds]
    return golds, preds


def test_f1_and_rmse_get_their_markers_from_a_randomization_test() -> None:
    from ropg.lamp import get_task

    task = get_task("LaMP-2")
    golds, strong = movie_tag_values(0, None, 0.6)
    _, weak = movie_tag_values(1, golds, 0.3)
    good, bad = task.per_example(golds, strong), task.per_example(golds, weak)
    significant, p = significance_against("f1", good, bad, 0.05)
    assert significant and p < 0.001
    assert significance_against("f1", bad, good, 0.05)[0] is False  # worse: no marker
    assert significance_against("f1", good, good, 0.05) == (False, 1.0)
    assert significance_against("f1", {"accuracy": good["accuracy"]}, bad, 0.05) is None
    rng = np.random.default_rng(2)
    small, large = np.abs(rng.normal(0, 0.5, 300)), np.abs(rng.normal(0, 1.0, 300))
    assert significance_against("RMSE", {"MAE": small}, {"MAE": large}, 0.05)[0]  # lower wins
    assert not significance_against("RMSE", {"MAE": large}, {"MAE": small}, 0.05)[0]
    assert significance_against("RMSE", small, small, 0.05) == (False, 1.0)


def test_legend_names_the_test_of_every_metric() -> None:
    rows = [
        Row(task, metric, {"none": Cell(0.3), "bm25": Cell(0.4)})
        for task, metric in [
            ("LaMP-2", "accuracy"), ("LaMP-2", "f1"), ("LaMP-3", "MAE"), ("LaMP-3", "RMSE"),
            ("LaMP-4", "rouge-1"), ("LaMP-4", "rouge-L"),
        ]
    ]  # fmt: skip
    markdown = render_results(table(rows))
    assert (
        "McNemar's test for Acc; two-sided paired randomization test (9,999 resamples) for F1, "
        "RMSE; two-tailed paired t-test for MAE, R-1, R-L"
    ) in markdown


def test_report_marks_f1_and_rmse_rows(tmp_path) -> None:
    """Through the report stage: scores files as the evaluate stage writes them."""
    from benchmark_fixtures import tiny_config

    from ropg.benchmark import BenchmarkConfig
    from ropg.benchmark.context import RunContext
    from ropg.benchmark.stages.report import results_table
    from ropg.lamp import get_task
    from ropg.utils.io import atomic_write_json

    config = BenchmarkConfig.from_dict(tiny_config(tmp_path))
    ctx = RunContext(config, show_progress=False)
    llm = config.llms[0]
    golds, _ = movie_tag_values(3, None, 0.0)
    ratings = [str(r) for r in np.random.default_rng(4).integers(1, 6, 300)]
    quality = {"none": 0.1, "bm25": 0.7, "recency": 0.1, "rrf": 0.1}  # bm25 beats the others
    for name, right in quality.items():
        lamp2 = movie_tag_values(5 + len(name), golds, right)[1]
        rng = np.random.default_rng(len(name))
        lamp3 = [gold if rng.random() < right else str(rng.integers(1, 6)) for gold in ratings]
        for task, task_golds, preds in [("LaMP-2", golds, lamp2), ("LaMP-3", ratings, lamp3)]:
            values = get_task(task).per_example(task_golds, preds)
            path = ctx.scores_path(llm.name, task, name)
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_json(
                path,
                {
                    "metrics": get_task(task).evaluate(task_golds, preds),
                    "per_example": {k: [float(v) for v in vs] for k, vs in values.items()},
                },
            )
    result, pvalues, _ = results_table(ctx, llm)
    markdown = render_results(result)
    for task, metric in [("LaMP-2", "F1"), ("LaMP-3", "RMSE"), ("LaMP-2", "Acc")]:
        bm25 = cells_of(markdown, task, metric)[1]
        assert bm25.endswith("<sup>acd</sup>"), (task, metric, bm25)  # none, recency, rrf
    assert pvalues["LaMP-3"]["RMSE"]["bm25"]["none"] < 0.05
    assert "paired randomization test (9,999 resamples) for F1, RMSE" in markdown
