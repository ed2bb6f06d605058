"""The stages of a benchmark run: every family's stages, in family order, then ``report``.

With the default families (``baselines``, ``ropg``, ``rspg``):

=================  ========  ===================================================================
stage              family    what it does
=================  ========  ===================================================================
rank               baselines rank every split with every pool retriever
generate           baselines the LLM answers each pool retriever's k-item prompt (and is scored)
evaluate           baselines predictions + scores of the pool retrievers
ropg-feedback      ropg      one-item prompts of the initial ranking's candidates, scored
ropg-train         ropg      ROPG-KD / ROPG-RL dense retrievers
ropg-rank          ropg      rankings of the trained retrievers
ropg-generate      ropg      the LLM answers their k-item prompts
ropg-evaluate      ropg      their predictions + scores
rspg-train         rspg      merged pool files; RSPG-Pre / RSPG-Post selectors
rspg-select        rspg      the retriever chosen per input; QPP, oracle, winning rates
rspg-evaluate      rspg      RSPG predictions + scores
report             -         metrics.json, table3.md, fingerprints.json, the families' files
=================  ========  ===================================================================
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ropg.benchmark.runner import Stage
from ropg.benchmark.stages.report import REPORT_STAGE
from ropg.errors import UserError

__all__ = ["all_stages"]


def all_stages(families: Sequence[Any]) -> list[Stage]:
    """The stages of ``families`` (a run's :meth:`~ropg.benchmark.config.BenchmarkConfig.
    family_list`) in order, then ``report``; names are checked to be unique."""
    stages = [stage for family in families for stage in family.stages()]
    stages.append(REPORT_STAGE)
    seen: dict[str, str | None] = {}
    for stage in stages:
        if stage.name in seen:
            raise UserError(
                f"stage {stage.name!r} is declared by two families ({seen[stage.name]} and "
                f"{stage.family})"
            )
        seen[stage.name] = stage.family
    return stages
