"""The shipped paper configs follow the paper (RRF over all three retrievers, dates on every
document), and an RRF member that is recency works in a benchmark run's context."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from benchmark_fixtures import tiny_config

from ropg.benchmark import BenchmarkConfig
from ropg.benchmark.context import RunContext

CONFIGS = Path(__file__).resolve().parent.parent / "benchmarks" / "configs"
PAPER_CONFIGS = ["paper-flant5xxl.yaml", "paper-vllm.yaml"]


@pytest.mark.parametrize("name", PAPER_CONFIGS)
def test_paper_rrf_fuses_bm25_recency_and_contriever(name):
    config = BenchmarkConfig.load(CONFIGS / name, ["data=/data/LaMP"])
    rrf = config.retrievers["rrf"]
    assert rrf.retriever == "rrf"
    assert rrf.options["retrievers"] == ["bm25", "recency", "contriever"]
    assert {config.retrievers[m].retriever for m in rrf.options["retrievers"]} == {
        "bm25",
        "recency",
        "contriever",
    }
    assert list(config.retrievers) == ["none", "bm25", "recency", "contriever", "rrf"]


@pytest.mark.parametrize("name", PAPER_CONFIGS)
def test_paper_documents_carry_their_dates(name):
    config = BenchmarkConfig.load(CONFIGS / name, ["data=/data/LaMP"])
    dated = {name for name, entry in config.retrievers.items() if entry.use_date}
    assert dated == {"bm25", "contriever", "rrf"}  # recency reads the dates themselves
    assert config.ropg.use_date


def test_quickstart_keeps_its_own_choice_of_no_dates_for_baselines():
    config = BenchmarkConfig.load(CONFIGS / "quickstart.yaml")
    assert not any(entry.use_date for entry in config.retrievers.values())
    assert config.ropg.use_date
    assert "without\n# dates" in (CONFIGS / "quickstart.yaml").read_text(encoding="utf-8")


def fuse(runs, size: int, k: float = 60.0) -> list[int]:
    """Reciprocal rank fusion written out: sum of 1 / (k + rank), ties in profile order."""
    scores = np.zeros(size)
    for order in runs:
        for rank, index in enumerate(order, start=1):
            scores[index] += 1.0 / (k + rank)
    ranked = sorted({i for order in runs for i in order}, key=lambda i: (-scores[i], i))
    return ranked


def test_recency_as_an_rrf_member_in_the_run_context(tmp_path):
    from ropg.retrievers.pipeline import rank_split

    values = tiny_config(tmp_path)  # rrf: [bm25, recency]
    values["retrievers"]["rrf"]["use_date"] = True
    config = BenchmarkConfig.from_dict(values)
    ctx = RunContext(config, show_progress=False)
    fused = ctx.retriever("rrf")
    assert fused.retrievers == [ctx.retriever("bm25"), ctx.retriever("recency")]  # shared
    split = ctx.split("LaMP-3", "dev")
    members = [
        rank_split(ctx.retriever(name), split, use_date=True, show_progress=False)
        for name in ("bm25", "recency")
    ]
    rankings = rank_split(fused, split, use_date=True, show_progress=False)
    recency_changed = 0
    for example in split.examples:
        runs = [np.asarray(member[example.id].indices).tolist() for member in members]
        expected = fuse(runs, len(example.profile))
        assert np.asarray(rankings[example.id].indices).tolist() == expected
        recency_changed += expected != runs[0]
    assert recency_changed > len(split) // 4  # the fusion is not BM25's order alone
