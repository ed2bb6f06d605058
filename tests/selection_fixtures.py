"""Pool feedback files for the ``test_selection_*.py`` files (``from selection_fixtures import``).

:func:`cue_pool_records` builds LaMP-2 pool records in which the best retriever of an input is
named by a cue word in the input, and each retriever's prompt carries items with its own
signature words: a selector can learn the (cue, signature) match from the text, while the
retrieval scores (what QPP sees) say nothing about it.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ropg.feedback.jsonl import HEADER_KEY
from ropg.lamp import get_task

POOL = ("none", "recency", "bm25", "contriever")
CUES = {"none": "classic", "recency": "today", "bm25": "report", "contriever": "friend"}
SIGNATURES = {
    "recency": ("new", "quick", "tomorrow"),
    "bm25": ("title", "paper", "data"),
    "contriever": ("love", "family", "life"),
}
FILLER = ("the", "a", "of", "and", "with", "big", "small", "old", "city", "world", "time")
TAGS = ("comedy", "action", "fantasy", "romance")
# bm25 is best most often, so "always bm25" is the best single retriever
WEIGHTS = {"none": 0.2, "recency": 0.2, "bm25": 0.4, "contriever": 0.2}


def write_pool_file(
    path: Path,
    records: Sequence[Mapping[str, Any]],
    task: str = "LaMP-2",
    pool: Sequence[str] = POOL,
    kind: str = "pool",
    **extra: Any,
) -> Path:
    """A ``ropg-feedback pool`` JSONL file: header line (``extra`` added), then the records."""
    fields = {"kind": kind, "task": task, "retrievers": list(pool), "k": 2, **extra}
    header = {HEADER_KEY: fields}
    lines = [json.dumps(header)] + [json.dumps(record) for record in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def entry(prompt: str, output: str, score: float, scores: Sequence[float] = ()) -> dict[str, Any]:
    """One retriever's entry of a pool record."""
    return {
        "indices": list(range(len(scores))),
        "item_ids": [f"p{i}" for i in range(len(scores))],
        "retrieval_scores": list(scores),
        "prompt": prompt,
        "output": output,
        "score": score,
    }


def cue_pool_records(
    count: int, seed: int, lucky: float = 0.25, items_per_prompt: int = 1
) -> list[dict[str, Any]]:
    """LaMP-2 pool records: the cued retriever answers the gold tag, the others only with
    probability ``lucky`` (ties for the best)."""
    rng = random.Random(seed)
    task = get_task("LaMP-2")
    records = []
    for number in range(count):
        best = rng.choices(POOL, weights=[WEIGHTS[name] for name in POOL])[0]
        gold = rng.choice(TAGS)
        words = [CUES[best], *rng.sample(FILLER, 2)]
        rng.shuffle(words)
        question = "description: " + " ".join(words)
        retrievers = {}
        for name in POOL:
            items = []
            for _ in range(0 if name == "none" else items_per_prompt):
                text = " ".join([*rng.sample(SIGNATURES[name], 2), rng.choice(FILLER)])
                items.append(f'"{text}" is "{rng.choice(TAGS)}" ')
            prompt = f"{', and '.join(items)}. {question}" if items else question
            right = name == best or rng.random() < lucky
            output = gold if right else rng.choice([tag for tag in TAGS if tag != gold])
            scale = {"bm25": 12.0, "contriever": 1.5, "recency": 2.0}.get(name, 0.0)
            # a ranked list of 4 (the prompt budget kept fewer items); none retrieves nothing
            scores = sorted((scale * rng.random() for _ in range(4 if items else 0)), reverse=True)
            retrievers[name] = entry(prompt, output, task.example_score(gold, output), scores)
        records.append(
            {"id": f"q{seed}-{number}", "user_id": f"u{number}", "gold": gold,
             "retrievers": retrievers}
        )  # fmt: skip
    return records
