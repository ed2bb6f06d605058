"""LLM feedback collection for ROPG (per candidate) and RSPG (per retriever), resumable."""

from __future__ import annotations

from ropg.feedback.collect import FeedbackRun, collect_feedback, feedback_by_id, merge_shards
from ropg.feedback.jsonl import ResumableJsonl, read_feedback
from ropg.feedback.planners import CandidatePlanner, PoolPlanner, PromptBuilder, Request

__all__ = [
    "CandidatePlanner",
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
