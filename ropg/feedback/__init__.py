"""LLM feedback collection (ROPG candidates, RSPG pools, chainable steps), resumable."""

from __future__ import annotations

from ropg.feedback.collect import FeedbackRun, collect_feedback, feedback_by_id, merge_shards
from ropg.feedback.jsonl import ResumableJsonl, read_feedback
from ropg.feedback.planners import (
    CandidatePlanner,
    Planner,
    PoolPlanner,
    PromptBuilder,
    QueryBuilder,
    Request,
)
from ropg.feedback.steps import StepOutputs, StepPlanner

__all__ = [
    "CandidatePlanner",
    "Planner",
    "QueryBuilder",
    "StepOutputs",
    "StepPlanner",
    "FeedbackRun",
    "PoolPlanner",
    "PromptBuilder",
    "Request",
    "ResumableJsonl",
    "collect_feedback",
    "feedback_by_id",
    "merge_shards",
    "read_feedback",
]
