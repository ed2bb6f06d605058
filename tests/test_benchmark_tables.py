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
