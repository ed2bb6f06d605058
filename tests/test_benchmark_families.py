"""A method family written entirely in the test, registered by its public interface, run by
``benchmarks/run_all.py`` on the sample: its column is in the table, and no ropg module changed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from benchmark_fixtures import tiny_config, write_config

from ropg.benchmark import BenchmarkConfig, run_benchmark
from ropg.benchmark.families.retriever import RetrieverFamily
from ropg.benchmark.family import Method, MethodFamily, family_class, register_family
from ropg.errors import UserError
from ropg.retrievers import BaseRetriever

ROOT = Path(__file__).resolve().parents[1]

REVERSE_FAMILY = '''
from ropg.benchmark.artifacts import RANKINGS
from ropg.benchmark.family import Method, MethodFamily, Stage
from ropg.benchmark.stages.evaluation import evaluate_stage
from ropg.benchmark.stages.generation import pool_unit
from ropg.benchmark.stages.retrieval import rank_unit
from ropg.retrievers import BaseRetriever, get_retriever


class WorstFirst(BaseRetriever):
    """BM25 upside down: the least similar profile items first."""

    name = "reverse-bm25"

    def rank(self, query, top_k=None):
        ranking = get_retriever("bm25").rank(query)
        return type(ranking)(ranking.indices[::-1][:top_k], -ranking.scores[::-1][:top_k])


class ReverseBM25(MethodFamily):
    name = "reverse"

    def stages(self):
        return [
            Stage("reverse-rank", self.rank, self.name),
            Stage("reverse-generate", self.generate, self.name),
            evaluate_stage("reverse-evaluate", self.name),
        ]

    def methods(self, config, llm):
        return [Method("reverse-bm25", "BM25 reversed", self.name)]

    def rank(self, ctx):
        split = ctx.config.eval_split
        return [
            rank_unit(ctx, "reverse-rank", task, split, "reverse-bm25", WorstFirst,
                      use_date=False, top_k=ctx.config.k, spec={"version": 1})
            for task in ctx.config.tasks
        ]

    def generate(self, ctx):
        split = ctx.config.eval_split
        return [
            pool_unit(ctx, "reverse-generate", llm, task, split,
                      {"reverse-bm25": ctx.artifacts.get(RANKINGS, (task, split, "reverse-bm25"))},
                      "reverse")
            for llm in ctx.config.llms if self.runs(ctx.config, llm)
            for task in ctx.config.tasks
        ]
'''


def test_a_family_defined_outside_ropg_runs_through_run_all(tmp_path: Path) -> None:
    (tmp_path / "reverse_family.py").write_text(textwrap.dedent(REVERSE_FAMILY))
    values = tiny_config(tmp_path, "rev", tasks=("LaMP-2", "LaMP-3"))
    values["families"] = ["baselines", "reverse_family:ReverseBM25"]
    values["llms"][0].pop("methods")  # default: every family of the run
    for section in ("ropg", "rspg"):
        values.pop(section)
    config = write_config(tmp_path / "rev.yaml", values)
    environment = {**os.environ, "PYTHONPATH": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run_all.py"), "--config", str(config),
         "--no-progress", "-q"],
        capture_output=True, text=True, env=environment, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    table = (tmp_path / "rev" / "table3.md").read_text(encoding="utf-8")
    header = next(line for line in table.splitlines() if line.startswith("| Task"))
    assert header.split("|")[-2].strip() == "BM25 reversed"
    rows = [line for line in table.splitlines() if line.startswith("| LaMP-")]
    assert len(rows) == 4 and all(row.split("|")[-2].strip() not in ("", "–") for row in rows)
    scores = tmp_path / "rev" / "scores" / "reader" / "LaMP-2" / "reverse-bm25.json"
    assert scores.is_file()
    # its column compares with the baselines: worst-first retrieval is no better than BM25
    listed = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run_all.py"), "--config", str(config),
         "--list-stages"],
        capture_output=True, text=True, env=environment, timeout=120,
    )  # fmt: skip
    assert "reverse-generate" in listed.stdout and "reverse " in listed.stdout


class Shortest(MethodFamily):
    name = "shortest-test"

    def methods(self, config, llm):
        return [Method("shortest", "Shortest", self.name)]


def test_register_family_makes_it_a_name(tmp_path: Path) -> None:
    register_family(Shortest)
    assert family_class("shortest-test") is Shortest
    values = tiny_config(tmp_path)
    values["families"] = ["baselines", "shortest-test"]
    values.pop("ropg"), values.pop("rspg")
    config = BenchmarkConfig.from_dict(values)
    assert [family.name for family in config.family_list()] == ["baselines", "shortest-test"]


@pytest.mark.parametrize("path", ["os:system", "os.path:join", "ropg.errors:UserError"])
def test_a_path_that_is_not_a_family_is_refused_before_it_is_called(path: str) -> None:
    with pytest.raises(UserError, match="is not a method family"):
        family_class(path)


def test_the_section_of_an_unlisted_family_is_ignored_with_a_warning(tmp_path, caplog) -> None:
    values = tiny_config(tmp_path)
    values["families"] = ["baselines"]
    values["llms"][0]["methods"] = ["baselines"]
    config = BenchmarkConfig.from_dict(values)
    assert [family.name for family in config.family_list()] == ["baselines"]
    assert "the ropg section is ignored" in caplog.text
    assert "ropg" not in config.to_dict()


def test_llm_methods_must_name_families_of_the_run(tmp_path: Path) -> None:
    values = tiny_config(tmp_path)
    values["llms"][0]["methods"] = ["baselines", "rpo"]
    with pytest.raises(UserError, match="not families of this run"):
        BenchmarkConfig.from_dict(values)


class WorstFirstFamily(RetrieverFamily):
    """The ten-line form: a retriever as a family of its own."""

    name = "worst-first"
    label = "Worst first"

    def make_retriever(self, ctx, task):
        from ropg.retrievers import get_retriever

        return ReversedRetriever(get_retriever("bm25"))


class ReversedRetriever(BaseRetriever):
    name = "reversed"

    def __init__(self, inner) -> None:
        self.inner = inner

    def score(self, query):
        ranking = self.inner.rank(query)  # the whole profile, best first
        scores = np.zeros(len(query.documents))
        scores[ranking.indices] = ranking.scores
        return -scores


def test_a_retriever_family_in_ten_lines(tmp_path: Path) -> None:
    register_family(WorstFirstFamily)
    values = tiny_config(tmp_path, "worst", tasks=("LaMP-3",))
    values["families"] = ["baselines", "worst-first"]
    values["llms"][0].pop("methods")
    values.pop("ropg"), values.pop("rspg")
    run_benchmark(BenchmarkConfig.from_dict(values), show_progress=False)
    table = (tmp_path / "worst" / "table3.md").read_text(encoding="utf-8")
    assert "Worst first" in table
    metrics = json.loads((tmp_path / "worst" / "metrics.json").read_text())
    scores = metrics["metrics"]["reader"]["LaMP-3"]
    assert scores["worst-first"]["MAE"] >= scores["bm25"]["MAE"]  # the worst items do not help
