"""The stages of a benchmark run, in order (a registry: ``STAGES[name]``).

=================  ========  ===================================================================
stage              group     what it does
=================  ========  ===================================================================
rank               -         rank every split with every pool retriever
generate           -         the LLM answers each pool retriever's k-item prompt (and is scored)
evaluate           baselines predictions + scores of the pool retrievers
ropg-feedback      ropg      one-item prompts of the initial ranking's candidates, scored
ropg-train         ropg      ROPG-KD / ROPG-RL dense retrievers
ropg-rank          ropg      rankings of the trained retrievers
ropg-generate      ropg      the LLM answers their k-item prompts
ropg-evaluate      ropg      their predictions + scores
rspg-train         rspg      merged pool files; RSPG-Pre / RSPG-Post selectors
rspg-select        rspg      the retriever chosen per input; QPP, oracle, winning rates
rspg-evaluate      rspg      RSPG predictions + scores
report             -         metrics.json, table3.md, selectors.md, fingerprints.json
=================  ========  ===================================================================
"""

from __future__ import annotations

from ropg.benchmark.runner import Stage
from ropg.benchmark.stages.evaluation import EVALUATE_STAGES, evaluate_planner
from ropg.benchmark.stages.generation import (
    plan_generate,
    plan_ropg_feedback,
    plan_ropg_generate,
)
from ropg.benchmark.stages.report import plan_report
from ropg.benchmark.stages.retrieval import plan_rank, plan_ropg_rank
from ropg.benchmark.stages.selection import plan_rspg_select, plan_rspg_train
from ropg.benchmark.stages.training import plan_ropg_train

_ORDER = [
    Stage("rank", plan_rank, description="rank every split with every pool retriever"),
    Stage("generate", plan_generate, description="LLM outputs per pool retriever (k items)"),
    Stage(EVALUATE_STAGES["baselines"], evaluate_planner("baselines"), "baselines",
          description="baseline predictions and scores"),
    Stage("ropg-feedback", plan_ropg_feedback, "ropg",
          description="LLM feedback per ROPG candidate (one-item prompts)"),
    Stage("ropg-train", plan_ropg_train, "ropg", description="train ROPG-KD / ROPG-RL"),
    Stage("ropg-rank", plan_ropg_rank, "ropg", description="rank with the trained retrievers"),
    Stage("ropg-generate", plan_ropg_generate, "ropg",
          description="LLM outputs per ROPG retriever (k items)"),
    Stage(EVALUATE_STAGES["ropg"], evaluate_planner("ropg"), "ropg",
          description="ROPG predictions and scores"),
    Stage("rspg-train", plan_rspg_train, "rspg", description="train RSPG-Pre / RSPG-Post"),
    Stage("rspg-select", plan_rspg_select, "rspg",
          description="select a retriever per input; QPP, oracle, winning rates"),
    Stage(EVALUATE_STAGES["rspg"], evaluate_planner("rspg"), "rspg",
          description="RSPG predictions and scores"),
    Stage("report", plan_report, always=True, description="tables, metrics and fingerprints"),
]  # fmt: skip
STAGES: dict[str, Stage] = {stage.name: stage for stage in _ORDER}

__all__ = ["STAGES"]
