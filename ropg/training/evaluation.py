"""Dev figures of a retriever over the candidates of a feedback file.

For every dev example the retriever re-ranks the initial retriever's candidates; the figures
are the mean LLM feedback of its top-1 candidate (``top1``) and the mean feedback of its top-k
(``topk``). The same figures for the initial ranking (slots in feedback-file order), the best
candidate (``oracle_top1``) and a random one (``mean``) put them in context. Only real
candidates count (no reference padding).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import Any

import numpy as np

from ropg.retrievers.encoder import EncoderSettings
from ropg.training.data import CandidateCollator, CandidateExample


def ranking_figures(
    examples: Sequence[CandidateExample], scores: Sequence[np.ndarray], k: int
) -> dict[str, float]:
    """Mean feedback of the top-1 and of the top-k candidates under ``scores`` (stable ties)."""
    top1, topk = [], []
    for example, example_scores in zip(examples, scores):
        feedback = np.asarray(example.feedback[: example.real], dtype=np.float64)
        order = np.argsort(-np.asarray(example_scores[: example.real]), kind="stable")
        top1.append(feedback[order[0]])
        topk.append(feedback[order[:k]].mean())
    return {"top1": float(np.mean(top1)), "topk": float(np.mean(topk))} if top1 else {}


def feedback_baselines(examples: Sequence[CandidateExample], k: int) -> dict[str, float]:
    """The initial ranking's top-1/top-k, the oracle top-1 and a random candidate's mean."""
    if not examples:
        return {}
    initial = ranking_figures(
        examples, [-np.arange(example.real, dtype=np.float64) for example in examples], k
    )
    feedback = [np.asarray(e.feedback[: e.real], dtype=np.float64) for e in examples]
    return {
        "initial_top1": initial["top1"],
        "initial_topk": initial["topk"],
        "oracle_top1": float(np.mean([f.max() for f in feedback])),
        "mean": float(np.mean([f.mean() for f in feedback])),
        "examples": len(examples),
        "k": k,
    }


def score_examples(
    model: Any,
    examples: Sequence[CandidateExample],
    collator: CandidateCollator,
    settings: EncoderSettings,
    *,
    batch_size: int = 8,
    max_tokens: int | None = 16384,
    device: Any = "cpu",
    autocast: Callable[[], Any] | None = None,
) -> list[np.ndarray]:
    """The model's score of every candidate of every example (eval mode, no gradient).

    ``autocast``: a callable returning a fresh context manager per batch (mixed precision).
    """
    import torch

    from ropg.training.model import score_batch

    was_training = model.training
    model.eval()
    results: list[np.ndarray] = []
    try:
        with torch.no_grad():
            for start in range(0, len(examples), batch_size):
                chunk = examples[start : start + batch_size]
                batch = {key: value.to(device) for key, value in collator(chunk).items()}
                with autocast() if autocast is not None else nullcontext():
                    scores = score_batch(model, batch, settings, max_tokens)
                scores = scores.float().cpu().numpy()
                results.extend(scores[row, : len(item.documents)] for row, item in enumerate(chunk))
    finally:
        model.train(was_training)
    return results


def evaluate_dev(
    model: Any,
    examples: Sequence[CandidateExample],
    collator: CandidateCollator,
    settings: EncoderSettings,
    k: int,
    **options: Any,
) -> dict[str, float]:
    """``{"dev_top1", "dev_topk"}`` of ``model`` on ``examples``."""
    scores = score_examples(model, examples, collator, settings, **options)
    figures = ranking_figures(examples, scores, k)
    return {f"dev_{key}": value for key, value in figures.items()}
