"""The base model's answers: the generic answer g (zero-shot, from the bare input) and, for the
ablation, the RAG answer (the task's own k-item LaMP prompt).

Only the base model's text is used (it is a black box). Each run writes a resumable JSONL
(``{"id", "output", "items"}`` per input) and, when done, the official LaMP predictions file
next to it (``NAME.predictions.json``).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ropg.errors import DataError
from ropg.reflection.contexts import top_indices
from ropg.reflection.jobs import digest, read_records, run_job, split_header

logger = logging.getLogger(__name__)


def predictions_path(path: str | os.PathLike[str]) -> Path:
    """Where the predictions file of a JSONL artifact goes: ``NAME.predictions.json``."""
    return Path(path).with_suffix(".predictions.json")


def write_split_predictions(
    split: Any, outputs: Mapping[str, str], path: str | os.PathLike[str]
) -> dict[str, Any]:
    """Write the official predictions file; the metrics when the split has golds."""
    from ropg.lamp import write_predictions

    ids = [example.id for example in split]
    write_predictions(path, split.task, ids, [outputs[qid] for qid in ids])
    if not split.has_golds:
        return {}
    return split.task.evaluate([e.gold for e in split], [outputs[qid] for qid in ids])


def base_prompts(
    task: Any,
    examples: Sequence[Any],
    rankings: Mapping[str, Sequence[int]] | None,
    k: int,
    tokenizer: Any,
    max_length: int,
) -> list[str]:
    """The base model's prompts: the bare input (``k == 0``) or the task's k-item prompt (both
    built by ``task.prompt``, so task-aware backends know the task)."""
    return [
        task.prompt(example.input, _top_items(example, rankings, k), tokenizer, max_length)
        for example in examples
    ]


def _top_items(example: Any, rankings: Mapping[str, Sequence[int]] | None, k: int) -> list[Any]:
    if rankings is None:
        return []
    return [example.profile[i] for i in top_indices(rankings, example.id, k)]


def generate_generic(
    split: Any,
    llm: Any,
    path: str | os.PathLike[str],
    *,
    rankings: Mapping[str, Sequence[int]] | None = None,
    k: int = 0,
    chunk_size: int = 64,
    restart: bool = False,
) -> dict[str, Any]:
    """Write the base model's answers for a split (resumable); return the facts.

    Args:
        split: a loaded split.
        llm: an :class:`~ropg.reflection.endpoints.RpoLLM`.
        path: the JSONL file to write.
        rankings: ``{qid: [profile indices]}`` for the RAG prompt (with ``k > 0``).
        k: items in the prompt: 0 is the zero-shot g of RPO, k > 0 the RAG baseline.

    Returns:
        ``{"path", "predictions", "examples", "generated", "metrics"}``.
    """
    if k > 0 and rankings is None:
        raise ValueError("a RAG answer (k > 0) needs rankings")
    task = split.task
    header = {
        **split_header(split),
        "kind": "rag" if k else "zero-shot",
        "k": k,
        "llm": llm.identity,
        "max_length": llm.max_length,
    }
    if k:
        header["rankings"] = digest([_top_items(e, rankings, k) for e in split])
    before = llm.misses

    def process(chunk: list[Any]) -> list[dict[str, Any]]:
        tokenizer = llm.prompt_tokenizer if k else None
        prompts = base_prompts(task, chunk, rankings, k, tokenizer, llm.max_length)
        outputs = llm.generate(prompts)
        return [
            {
                "id": example.id,
                "output": output,
                "items": [str(item.get("id")) for item in _top_items(example, rankings, k)],
            }
            for example, output in zip(chunk, outputs, strict=True)
        ]

    records = run_job(path, header, list(split), process, chunk_size, restart)
    outputs = {str(r["id"]): str(r["output"]) for r in records}
    metrics = write_split_predictions(split, outputs, predictions_path(path))
    return {
        "path": str(path),
        "predictions": str(predictions_path(path)),
        "examples": len(records),
        "generated": llm.misses - before,
        "metrics": metrics,
    }


def rag_answers(
    split: Any,
    llm: Any,
    rankings: Mapping[str, Sequence[int]],
    k: int,
    path: str | os.PathLike[str],
    **options: Any,
) -> dict[str, Any]:
    """The RAG baseline: the base model with the task's k-item prompt (see
    :func:`generate_generic`)."""
    if k < 1:
        raise ValueError("RAG needs k >= 1 items")
    return generate_generic(split, llm, path, rankings=rankings, k=k, **options)


def read_generic(path: str | os.PathLike[str]) -> dict[str, str]:
    """``{qid: g}`` from a generic JSONL, or from an official LaMP predictions file."""
    path = Path(path)
    if path.suffix == ".jsonl":
        return {str(r["id"]): str(r["output"]) for r in read_records(path)}
    from ropg.lamp import parse_outputs

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except (OSError, ValueError) as error:
        raise DataError(path, f"not valid JSON ({error})") from None
    _, outputs = parse_outputs(data, None, path)
    return {qid: str(output) for qid, output in outputs.items()}
