"""Official metric edge cases (docs/lamp-fidelity.md: Metrics), feedback scores and significance tests."""

from __future__ import annotations

import math

import numpy as np
import pytest
from rouge_score import rouge_scorer, scoring
from sklearn.metrics import f1_score

from ropg.lamp import LampError, get_task
from ropg.lamp.metrics import bootstrap_median_of_means
from ropg.lamp.stats import mcnemar_test, paired_t_test, significance


def test_citation_accuracy_strips_and_matches_exactly():
    task = get_task("LaMP-1")
    result = task.evaluate(["[1]", "[2]", "[1]", "[2]"], [" [1] ", "[2]\n", "1", "[2] "])
    assert result["accuracy"] == pytest.approx(0.75)
    assert set(result) == {"accuracy", "f1"}


def test_movie_tags_are_case_sensitive_and_unknowns_are_wrong():
    task = get_task("LaMP-2")
    golds = ["comedy", "comedy", "action", "sci-fi"]
    preds = ["Comedy", "comedy", "actio", " sci-fi "]
    result = task.evaluate(golds, preds)
    assert result["accuracy"] == pytest.approx(0.5)
    # macro-F1 over ALL 15 labels, as sklearn computes it with labels=range(15)
    labels = list(task.labels)
    index = {label: i for i, label in enumerate(labels)}
    gold_ids = [index.get(g.strip(), -1) for g in golds]
    pred_ids = [index.get(p.strip(), -1) for p in preds]
    expected = f1_score(
        gold_ids, pred_ids, labels=list(range(15)), average="macro", zero_division=0
    )
    assert result["f1"] == pytest.approx(expected)
    # comedy F1 = 2/3, sci-fi = 1, every other label (absent or missed) = 0
    assert result["f1"] == pytest.approx((2 / 3 + 1) / 15)


@pytest.mark.parametrize("seed", range(5))
def test_macro_f1_equals_sklearn_on_random_predictions(seed):
    task = get_task("LaMP-2")
    rng = np.random.default_rng(seed)
    labels = list(task.labels) + ["not a tag"]
    golds = [task.labels[i] for i in rng.integers(0, 6, 200)]
    preds = [labels[i] for i in rng.integers(0, len(labels), 200)]
    index = {label: i for i, label in enumerate(task.labels)}
    expected = f1_score(
        [index[g] for g in golds],
        [index.get(p, -1) for p in preds],
        labels=list(range(15)),
        average="macro",
        zero_division=0,
    )
    assert task.evaluate(golds, preds)["f1"] == pytest.approx(expected)


def test_rating_metric_edge_cases():
    task = get_task("LaMP-3")
    # "4.0" parses; "7" is not clipped; "abc" for gold 3 becomes 5.0; "x" for gold 4 -> 1.0
    golds = ["4", "1", "3", "4", "2"]
    preds = ["4.0", "7", "abc", "x", " 2 "]
    errors = np.array([0.0, 6.0, 2.0, 3.0, 0.0])
    result = task.evaluate(golds, preds)
    assert result["MAE"] == pytest.approx(errors.mean())
    assert result["RMSE"] == pytest.approx(math.sqrt((errors**2).mean()))
    assert set(result) == {"MAE", "RMSE"}
    # gold 1: farther extreme is 5.0; gold 5: 1.0
    assert task.evaluate(["1", "5"], ["?", "?"])["MAE"] == pytest.approx(4.0)


def test_rating_feedback_is_normalized():
    task = get_task("LaMP-3")
    assert task.example_score("5", "5") == pytest.approx(1.0)
    assert task.example_score("5", "1") == pytest.approx(0.0)
    assert task.example_score("3", "4") == pytest.approx(0.5)  # worst = 2
    assert task.example_score("2", "abc") == pytest.approx(0.0)  # abc -> 5.0, the worst
    with pytest.raises(LampError, match="not a number"):
        task.example_score("three", "3")


def test_rouge_no_stemming_default_tokenizer():
    task = get_task("LaMP-4")
    golds = ["Running dogs are happy!", "The cat"]
    preds = ["run dog is happy", "  the CAT  "]
    reference = rouge_scorer.RougeScorer(["rouge1", "rougeL"], use_stemmer=False)
    expected = [reference.score(g.strip(), p.strip()) for g, p in zip(golds, preds)]
    result = task.evaluate(golds, preds)
    assert result["rouge-1"] == pytest.approx(np.mean([e["rouge1"].fmeasure for e in expected]))
    assert result["rouge-L"] == pytest.approx(np.mean([e["rougeL"].fmeasure for e in expected]))
    # without stemming "running"/"run" do not match: only "happy" overlaps in the first pair
    assert task.example_score(golds[0], preds[0]) == pytest.approx(2 * (1 / 4 * 1 / 4) / (1 / 2))
    assert task.example_score(golds[1], preds[1]) == pytest.approx(1.0)


def test_rouge_bootstrap_is_seeded_and_close_to_the_reference_aggregator():
    task = get_task("LaMP-7")
    rng = np.random.default_rng(0)
    words = "the a cat dog runs fast slow happy new old".split()
    golds = [" ".join(rng.choice(words, 6)) for _ in range(300)]
    preds = [" ".join(rng.choice(words, 6)) for _ in range(300)]
    first = task.evaluate(golds, preds, aggregate="bootstrap", seed=1)
    assert first == task.evaluate(golds, preds, aggregate="bootstrap", seed=1)
    mean = task.evaluate(golds, preds)
    assert abs(first["rouge-1"] - mean["rouge-1"]) < 5e-3
    aggregator = scoring.BootstrapAggregator()
    scorer = rouge_scorer.RougeScorer(["rouge1", "rougeL"], use_stemmer=False)
    for gold, pred in zip(golds, preds):
        aggregator.add_scores(scorer.score(gold, pred))
    reference = aggregator.aggregate()["rouge1"].mid.fmeasure
    assert abs(first["rouge-1"] - reference) < 5e-3
    with pytest.raises(LampError, match="aggregate"):
        task.evaluate(golds, preds, aggregate="max")


def test_bootstrap_median_of_means_of_constant_is_constant():
    assert bootstrap_median_of_means(np.full(10, 0.25), seed=0) == pytest.approx(0.25)


def test_length_mismatch_and_empty_are_errors():
    with pytest.raises(LampError, match="2 golds but 1"):
        get_task("LaMP-1").evaluate(["[1]", "[2]"], ["[1]"])
    with pytest.raises(LampError, match="no examples"):
        get_task("LaMP-5").evaluate([], [])


def test_classification_feedback():
    task = get_task("LaMP-1")
    assert task.example_score("[1]", " [1]") == 1.0
    assert task.example_score("[1]", "[2]") == 0.0
    assert task.example_scores(["[1]", "[2]"], ["[1]", "[1]"]) == [1.0, 0.0]


def test_mcnemar_against_hand_computation():
    # 10 discordant pairs, 8 favour a: exact two-sided binomial p = 2 * P(X <= 2 | n=10)
    a = [True] * 8 + [False] * 2 + [True] * 5
    b = [False] * 8 + [True] * 2 + [True] * 5
    expected = 2 * sum(math.comb(10, k) for k in range(3)) / 2**10
    assert mcnemar_test(a, b) == pytest.approx(expected)
    assert mcnemar_test(a, a) == 1.0
    # large discordance: chi-square with continuity correction
    a = [True] * 40 + [False] * 20
    b = [False] * 40 + [True] * 20
    from scipy.stats import chi2

    assert mcnemar_test(a, b) == pytest.approx(chi2.sf((20 - 1) ** 2 / 60, 1))


def test_paired_t_test_and_task_significance():
    rng = np.random.default_rng(0)
    base = rng.random(50)
    assert paired_t_test(base, base) == 1.0
    assert paired_t_test(base + 0.5, base) == 0.0
    noisy = base + rng.normal(0, 0.01, 50) + 0.05
    from scipy.stats import ttest_rel

    assert paired_t_test(noisy, base) == pytest.approx(ttest_rel(noisy, base).pvalue)
    golds = ["4"] * 30
    assert significance("LaMP-3", golds, ["4"] * 30, ["1"] * 30) == 0.0
    p = significance("LaMP-1", ["[1]"] * 30, ["[1]"] * 30, ["[2]"] * 30)
    assert p < 1e-6
    with pytest.raises(LampError, match="per-example metric"):
        significance("LaMP-4", ["a"], ["a"], ["b"], metric="bleu")


# -- a paired test per metric: McNemar, t-test, randomization (F1, RMSE) -------------------------
def movie_tags(seed: int, n: int, right: float, golds=None):
    """``n`` LaMP-2 golds and predictions that are right with probability ``right`` (else a
    random tag or, now and then, a non-label)."""
    labels = get_task("LaMP-2").metric.labels
    rng = np.random.default_rng(seed)
    golds = golds or [labels[i] for i in rng.integers(0, len(labels), n)]
    preds = [
        g if rng.random() < right else ("nonsense" if rng.random() < 0.1 else rng.choice(labels))
        for g in golds
    ]
    return golds, preds


def test_per_example_label_indices_recompute_macro_f1():
    from ropg.lamp.stats import compare

    task = get_task("LaMP-2")
    golds, better = movie_tags(0, 300, 0.6)
    _, worse = movie_tags(1, 300, 0.3, golds)
    a, b = task.per_example(golds, better), task.per_example(golds, worse)
    assert set(a) == {"accuracy", "gold_label", "pred_label"}
    assert a["pred_label"].min() == -1  # "nonsense" is no label
    official = task.evaluate(golds, better)["f1"] - task.evaluate(golds, worse)["f1"]
    assert compare("f1", a, b).difference == pytest.approx(official)  # all 15 labels occur
    errors = get_task("LaMP-3").per_example(["1", "5", "3"], ["2", "5", "5"])["MAE"]
    rmse = get_task("LaMP-3").evaluate(["1", "5", "3"], ["2", "5", "5"])["RMSE"]
    assert compare("RMSE", errors, np.zeros(3)).difference == pytest.approx(rmse)


@pytest.mark.parametrize("metric", ["f1", "RMSE"])
def test_randomization_test_separates_better_from_identical_systems(metric):
    from ropg.lamp.stats import compare, metric_p_value, paired_test_label

    if metric == "f1":
        task = get_task("LaMP-2")
        golds, better = movie_tags(2, 400, 0.55)
        _, worse = movie_tags(3, 400, 0.25, golds)
        a, b = task.per_example(golds, better), task.per_example(golds, worse)
    else:
        rng = np.random.default_rng(4)
        a, b = np.abs(rng.normal(0, 0.6, 400)), np.abs(rng.normal(0, 1.0, 400))
    assert "randomization" in paired_test_label(metric)
    clear = compare(metric, a, b)
    assert clear.p_value < 0.001 and (clear.difference > 0) == (metric == "f1")
    assert metric_p_value(metric, a, a) == 1.0
    assert metric_p_value(metric, a, b) == metric_p_value(metric, a, b)  # seeded
    assert metric_p_value(metric, b, a) == clear.p_value  # two-sided: symmetric


def test_randomization_test_is_scipy_s_exact_permutation_test_on_small_samples():
    from scipy.stats import permutation_test

    from ropg.lamp.stats import metric_p_value

    rng = np.random.default_rng(5)
    a, b = np.abs(rng.normal(0, 1, 11)), np.abs(rng.normal(0.4, 1, 11))

    def rmse_difference(x, y, axis=-1):
        return np.sqrt(np.mean(x**2, axis=axis)) - np.sqrt(np.mean(y**2, axis=axis))

    expected = permutation_test(
        (a, b), rmse_difference, permutation_type="samples", vectorized=True
    ).pvalue  # 2**11 swaps <= 9,999 resamples: exact, as ours
    assert metric_p_value("RMSE", a, b) == pytest.approx(expected)
    # randomized (more examples than exact enumeration allows): close to scipy's estimate
    a, b = np.abs(rng.normal(0, 1, 200)), np.abs(rng.normal(0.15, 1, 200))
    estimate = permutation_test(
        (a, b), rmse_difference, permutation_type="samples", vectorized=True, n_resamples=9999,
        random_state=0,
    ).pvalue  # fmt: skip
    assert metric_p_value("RMSE", a, b) == pytest.approx(estimate, abs=0.02)


def test_f1_test_needs_the_label_indices():
    from ropg.lamp.stats import has_inputs, metric_p_value

    values = get_task("LaMP-1").per_example(["[1]", "[2]"], ["[1]", "[1]"])
    assert has_inputs("f1", values) and not has_inputs("f1", {"accuracy": [1.0, 0.0]})
    assert not has_inputs("f1", [1.0, 0.0])  # one array cannot hold gold and predicted labels
    with pytest.raises(LampError, match="gold_label"):
        metric_p_value("f1", {"accuracy": [1.0]}, {"accuracy": [0.0]})
    golds, preds = movie_tags(6, 200, 0.6)
    assert significance("LaMP-2", golds, preds, ["comedy"] * 200, metric="f1") < 0.001
