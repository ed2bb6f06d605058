"""RSPG without training: QPP formulas, selections, oracle bounds, success and winning rates,
the report and its chart, pool-record loading and its errors, and the selector loss."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from selection_fixtures import entry, write_pool_file

from ropg.feedback import feedback_by_id
from ropg.lamp import LampError, get_task
from ropg.lamp.errors import LampDataError
from ropg.selection import (
    QPP_SELECTORS,
    PoolRecord,
    RetrieverResult,
    evaluate_selection,
    load_pool_records,
    nqc,
    oracle_bounds,
    oracle_metrics,
    plot_winning_rates,
    select_best_single,
    select_random,
    sigma_max,
    sigma_x,
    success_rate,
    wig,
    winning_rates,
    write_report,
)
from ropg.selection.baselines import list_scores

SCORES = [4.0, 2.0, 1.0, 1.0]  # mean 2, population variance (4 + 0 + 1 + 1) / 4 = 1.5


# -- QPP formulas ---------------------------------------------------------------------------
def test_wig_is_the_top_k_mean_minus_the_corpus_score():
    assert wig(SCORES) == pytest.approx(2.0)
    assert wig(SCORES, k=2) == pytest.approx(3.0)
    assert wig(SCORES, corpus_score=1.5) == pytest.approx(0.5)
    assert wig([]) == 0.0


def test_nqc_is_the_top_k_std_over_the_corpus_score():
    assert nqc(SCORES) == pytest.approx(math.sqrt(1.5))
    assert nqc(SCORES, k=2) == pytest.approx(1.0)  # [4, 2]
    assert nqc(SCORES, corpus_score=-2.0) == pytest.approx(math.sqrt(1.5) / 2)
    assert nqc([]) == 0.0


def test_sigma_max_is_the_largest_prefix_std():
    # prefixes: [4,2] -> 1; [4,2,1] -> sqrt(14/9) (mean 7/3); [4,2,1,1] -> sqrt(1.5)
    assert sigma_max(SCORES) == pytest.approx(math.sqrt(14 / 9))
    assert sigma_max(SCORES, k=2) == pytest.approx(1.0)
    assert sigma_max([5.0]) == 0.0 and sigma_max([]) == 0.0


def test_sigma_x_keeps_scores_above_x_of_the_top():
    assert sigma_x(SCORES, x=0.5) == pytest.approx(1.0)  # >= 2: [4, 2]
    assert sigma_x(SCORES, x=0.25) == pytest.approx(math.sqrt(1.5))  # >= 1: all
    assert sigma_x(SCORES, x=0.9) == 0.0  # only the top
    assert sigma_x([-1.0, -3.0]) == pytest.approx(1.0)  # non-positive top: all kept


def result(scores=(), items=None, score=0.0, output="", prompt="p") -> RetrieverResult:
    count = len(scores) if items is None else items
    return RetrieverResult(
        prompt, output, score, tuple(scores), tuple(f"i{n}" for n in range(count))
    )


def test_recency_gets_reciprocal_ranks_and_none_zeros():
    np.testing.assert_allclose(list_scores(result([9.0, 8.0, 7.0]), "recency"), [1, 1 / 2, 1 / 3])
    np.testing.assert_allclose(list_scores(result([], items=2), "none"), [0.0, 0.0])
    np.testing.assert_allclose(list_scores(result([1.0, 3.0]), "bm25"), [3.0, 1.0])  # sorted
    custom = {"mine": "reciprocal_rank"}
    np.testing.assert_allclose(list_scores(result([5.0, 6.0]), "mine", custom), [1.0, 0.5])
    with pytest.raises(LampError, match="unknown QPP score rule"):
        list_scores(result([1.0]), "x", {"x": "nope"})


def pool_record(rid: str, **results: RetrieverResult) -> PoolRecord:
    return PoolRecord(rid, "comedy", "LaMP-2", dict(results))


def test_qpp_selectors_pick_the_highest_prediction_first_on_ties():
    records = [
        # bm25 [3, 2.9]: mean 2.95, std .05; recency reciprocal ranks [1, .5]: mean .75, std .25
        pool_record("a", none=result(items=2), recency=result([7, 6]), bm25=result([3.0, 2.9])),
        # bm25 [.2, .1]: mean .15 < .75, std .05 < .25
        pool_record("b", none=result(items=2), recency=result([7, 6]), bm25=result([0.2, 0.1])),
        # nothing retrieved anywhere: every prediction is 0, the first of the pool wins
        pool_record("c", none=result(), recency=result(), bm25=result()),
    ]
    assert QPP_SELECTORS["wig"](records) == ["bm25", "recency", "none"]
    assert QPP_SELECTORS["nqc"](records) == ["recency", "recency", "none"]
    assert QPP_SELECTORS["sigma_max"](records) == ["recency", "recency", "none"]
    assert QPP_SELECTORS["sigma_x"](records) == ["recency", "recency", "none"]
    # with x = 0.99 only the top score of each list is left: every std is 0
    assert QPP_SELECTORS["sigma_x"](records, x=0.99) == ["none", "none", "none"]
    assert QPP_SELECTORS["wig"](records, k=1) == ["bm25", "recency", "none"]


def test_random_is_seeded_per_input_and_best_single_uses_mean_scores():
    records = [
        pool_record(f"q{i}", x=result(score=i % 2), y=result(score=0.6), z=result(score=0.0))
        for i in range(40)
    ]
    first = select_random(records, seed=3)
    assert first == select_random(records, seed=3)
    assert select_random(records[::-1], seed=3) == first[::-1]  # per input, not per position
    assert first != select_random(records, seed=4)
    assert set(first) == {"x", "y", "z"}
    assert QPP_SELECTORS["random"](records, seed=3) == first
    assert select_best_single(records) == "y"  # x averages 0.5, y 0.6


# -- success rate, oracle, winning rate -------------------------------------------------------
def rating_records() -> list[PoolRecord]:
    """LaMP-3: gold 3 and 5; scores from the task (normalized by the worst error)."""
    task = get_task("LaMP-3")
    table = {"r1": ("3", {"none": "1", "bm25": "3", "recency": "4"}),
             "r2": ("5", {"none": "5", "bm25": "1", "recency": "4"})}  # fmt: skip
    return [
        PoolRecord(
            rid,
            gold,
            "LaMP-3",
            {n: result(output=o, score=task.example_score(gold, o)) for n, o in outputs.items()},
        )  # fmt: skip
        for rid, (gold, outputs) in table.items()
    ]


def test_oracle_bounds_are_the_best_and_worst_retriever_per_input():
    records = rating_records()
    metrics = oracle_metrics(records)
    # upper: bm25 (error 0) then none (error 0); lower: none (error 2) then bm25 (error 4)
    assert metrics["upper"] == {"MAE": 0.0, "RMSE": 0.0}
    assert metrics["lower"]["MAE"] == pytest.approx(3.0)
    assert metrics["lower"]["RMSE"] == pytest.approx(math.sqrt(10.0))
    assert oracle_bounds(records) == pytest.approx({"upper": 0.0, "lower": 3.0})  # MAE
    assert evaluate_selection(records, ["recency", "recency"]) == {"MAE": 1.0, "RMSE": 1.0}
    assert success_rate(records, ["bm25", "none"]) == 1.0
    assert success_rate(records, ["bm25", "recency"]) == 0.5
    with pytest.raises(LampError, match="2 records but 1 selections"):
        success_rate(records, ["bm25"])
    with pytest.raises(LampError, match="'dense' is not in the pool"):
        success_rate(records, ["bm25", "dense"])


def test_ties_count_as_success_and_every_tied_best_wins():
    records = [
        pool_record("a", x=result(score=1.0), y=result(score=1.0), z=result(score=0.0)),
        pool_record("b", x=result(score=0.0), y=result(score=0.5), z=result(score=0.2)),
        pool_record("c", x=result(score=0.3), y=result(score=0.1), z=result(score=0.3)),
    ]
    assert success_rate(records, ["x", "y", "z"]) == 1.0
    assert success_rate(records, ["y", "z", "y"]) == pytest.approx(1 / 3)
    # wins: x in a, c; y in a, b; z in c -> 5 wins over 3 inputs
    assert winning_rates(records) == pytest.approx({"x": 0.4, "y": 0.4, "z": 0.2})
    assert winning_rates(records, "inputs") == pytest.approx({"x": 2 / 3, "y": 2 / 3, "z": 1 / 3})
    assert sum(winning_rates(records).values()) == pytest.approx(1.0)
    with pytest.raises(LampError, match="normalize"):
        winning_rates(records, "per-retriever")


def test_winning_rate_chart_and_report(tmp_path):
    records = rating_records()
    png = plot_winning_rates(winning_rates(records), tmp_path / "out" / "wins.png", "LaMP-3")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 2000
    report = write_report(tmp_path / "report", records, records, {"mine": ["bm25", "none"]})
    rows = {row["method"]: row for row in report["rows"]}
    assert rows["mine"]["success_rate"] == 1.0 and rows["mine"]["MAE"] == 0.0
    assert rows["oracle lower bound"]["MAE"] == pytest.approx(3.0)
    assert rows["always recency"]["success_rate"] == 0.0
    assert {"QPP wig", "QPP nqc", "QPP sigma_max", "QPP sigma_50%", "random"} <= set(rows)
    assert any(name.startswith("best single") for name in rows)
    saved = json.loads((tmp_path / "report" / "analysis.json").read_text())
    assert saved["rows"] == json.loads(json.dumps(report["rows"]))
    markdown = (tmp_path / "report" / "analysis.md").read_text()
    assert "| method | success_rate | MAE | RMSE |" in markdown and "winning_rates.png" in markdown
    assert (tmp_path / "report" / "winning_rates.png").is_file()


# -- loading pool feedback ---------------------------------------------------------------------
def records_json(count: int = 3) -> list[dict]:
    return [
        {
            "id": f"q{i}",
            "user_id": "u",
            "gold": "comedy",
            "retrievers": {
                "none": entry("p0", "comedy", 1.0),
                "bm25": entry("p1", "action", 0.0, [2.0, 1.0]),
                "recency": entry("p2", "comedy", 1.0, [4.0, 3.0]),
            },
        }  # fmt: skip
        for i in range(count)
    ]


POOL = ("none", "bm25", "recency")


def test_load_pool_records_keeps_pool_order_and_subsets(tmp_path):
    path = write_pool_file(tmp_path / "pool.jsonl", records_json(), pool=POOL)
    records = load_pool_records(path, task="LaMP-2")
    assert [r.id for r in records] == ["q0", "q1", "q2"] and records[0].task == "LaMP-2"
    assert records[0].names == POOL
    assert records[0].retrievers["bm25"].retrieval_scores == (2.0, 1.0)
    np.testing.assert_allclose(records[0].scores(), [1.0, 0.0, 1.0])
    subset = load_pool_records([path], retrievers=["recency", "none"], limit=2)
    assert len(subset) == 2 and subset[0].names == ("recency", "none")


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda r: r["retrievers"].pop("bm25"), r"record 2, id 'q1', field 'retrievers': no entry"),
        (lambda r: r.pop("id"), r"record 2, field 'id': missing"),
        (lambda r: r["retrievers"]["none"].update(score="1"), r"'retrievers.none.score'"),
        (lambda r: r["retrievers"]["none"].update(score=float("nan")), "finite number"),
        (lambda r: r["retrievers"]["bm25"].pop("output"), r"'retrievers.bm25.output'"),
        (lambda r: r.pop("gold"), r"field 'gold'"),
    ],
)
def test_bad_pool_records_name_file_record_and_field(tmp_path, damage, message):
    records = records_json()
    damage(records[1])
    path = write_pool_file(tmp_path / "bad.jsonl", records, pool=POOL)
    with pytest.raises(LampDataError, match=message) as raised:
        load_pool_records(path)
    assert str(path) in str(raised.value)


def test_pool_files_must_be_pool_feedback_for_the_task_with_unique_ids(tmp_path):
    path = write_pool_file(tmp_path / "pool.jsonl", records_json(), pool=POOL)
    with pytest.raises(LampDataError, match="is feedback for LaMP-2, not LaMP-3"):
        load_pool_records(path, task="LaMP-3")
    with pytest.raises(LampDataError, match="duplicate id"):
        load_pool_records([path, path])
    other = write_pool_file(tmp_path / "cand.jsonl", records_json(), kind="candidates")
    with pytest.raises(LampDataError, match="'candidates' feedback file; RSPG needs a 'pool'"):
        load_pool_records(other)
    likelihood = write_pool_file(tmp_path / "ll.jsonl", records_json(), signal="likelihood")
    with pytest.raises(LampDataError, match="signal 'likelihood'; RSPG needs generated outputs"):
        load_pool_records(likelihood)
    with pytest.raises(LampDataError, match="file not found"):
        load_pool_records(tmp_path / "missing.jsonl")


def test_feedback_by_id_names_a_record_without_id(tmp_path):
    records = records_json()
    del records[2]["id"]
    path = write_pool_file(tmp_path / "pool.jsonl", records, pool=POOL)
    with pytest.raises(LampDataError, match=r"record 3, field 'id': missing"):
        feedback_by_id(path)


# -- the loss ---------------------------------------------------------------------------------
def test_selector_loss_is_tempered_kl_and_reference_compat_moves_the_temperature():
    torch = pytest.importorskip("torch")
    from ropg.selection import selector_loss

    scores = torch.tensor([[0.5, -1.0, 2.0], [0.0, 0.3, 0.1]], requires_grad=True)
    feedback = torch.tensor([[1.0, 0.0, 0.5], [0.2, 0.2, 0.9]])

    def kl(target, log_input):
        return float((target * (target.log() - log_input)).sum(-1).mean().detach())

    def loss(t, compat=False):
        return float(selector_loss(scores, feedback, t, reference_compat=compat).detach())

    for t in (1.0, 2.0):
        expected = kl(torch.softmax(feedback / t, -1), torch.log_softmax(scores / t, -1))
        assert loss(t) == pytest.approx(expected, abs=1e-6)
        reference = torch.nn.KLDivLoss(reduction="batchmean")(
            torch.log_softmax(scores, -1) / t, torch.softmax(feedback, -1)
        )
        assert loss(t, compat=True) == pytest.approx(float(reference.detach()), abs=1e-6)
    assert loss(1.0, compat=True) == pytest.approx(loss(1.0), abs=1e-6)
    assert loss(2.0, compat=True) != pytest.approx(loss(2.0), abs=1e-3)
    selector_loss(scores, feedback, 2.0, True).backward()
    assert scores.grad is not None and torch.isfinite(scores.grad).all()
