"""It learns (CPU, tiny T5s built in the tests, one torch thread).

1. On synthetic users who reuse their own words (the first 150 characters of a review hold none
   of them), a generator trained with the ranked past passages (RankDocBM25) beats one trained
   on the immediate context alone (ImmedCtx) on held-out users' ROUGE-1.
2. An author-distinction classifier trained on the pipeline's pairs (training users only) tells
   held-out users' passage pairs apart clearly above chance.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from ropg.multistage import synthetic
from ropg.multistage.config import MultistageConfig
from ropg.multistage.workspace import Workspace

TINY = {
    "train.model": "tiny-t5", "train.tiny_layers": 1, "train.generator_users": "all",
    "train.optimizer": "adamw_torch", "train.scheduler": "constant", "train.warmup_steps": 0,
    "train.lr": 3e-3, "train.batch_size": 16, "train.save_steps": 10_000,
    "train.mixed_precision": "no", "generation.num_beams": 1, "generation.batch_size": 64,
    "data.context_cut": "word", "data.max_examples_per_user": 8,
    "data.split_fractions": [0.7, 0.0, 0.3],
}  # fmt: skip


@pytest.fixture
def one_thread():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _documents(path: Path, pool_size: int, **options) -> str:
    with path.open("w") as stream:
        for d in synthetic.generate_documents(users=120, seed=3, min_documents=8,
                                              max_documents=10, pool_size=pool_size,
                                              words_per_user=3, **options):  # fmt: skip
            stream.write(json.dumps({"user_id": d.user_id, "id": d.id, "date": d.date,
                                     "title": d.title, "text": d.text}) + "\n")  # fmt: skip
    return str(path)


def test_ranked_past_passages_beat_the_immediate_context_on_held_out_users(tmp_path, one_thread):
    from ropg.multistage.generate import score_row
    from ropg.multistage.metrics import significance
    from ropg.multistage.rows import get_row

    config = MultistageConfig.load(overrides={
        **TINY, "work_dir": str(tmp_path / "run"),
        "data.source": _documents(tmp_path / "documents.jsonl", 24), "rank.max_chars": 300,
        "train.tiny_d_model": 96, "train.max_steps": 300, "train.max_source_tokens": 128,
        "train.max_target_tokens": 40, "generation.max_new_tokens": 40,
    })  # fmt: skip
    ws = Workspace(config)
    users = ws.build_data()["users"]
    assert users["train"] == 84 and users["test"] == 36  # test users are never trained on
    immediate = score_row(ws, get_row("ImmedCtx"))
    ranked = score_row(ws, get_row("RankDocBM25"))
    gain = ranked["metrics"]["rouge-1"] - immediate["metrics"]["rouge-1"]
    p_value = significance(ranked["per_example"], immediate["per_example"])["rouge-1"]
    assert gain > 0.03 and p_value < 0.01, (immediate["metrics"], ranked["metrics"], p_value)


def _binomial_p_above_half(successes: int, trials: int) -> float:
    """One-sided exact binomial p-value of ``successes`` or more of ``trials`` at 1/2."""
    return sum(math.comb(trials, k) for k in range(successes, trials + 1)) / 2**trials


def test_author_distinction_is_clearly_above_chance_on_held_out_users(tmp_path, one_thread):
    from ropg.multistage import author
    from ropg.multistage.generate import held_out_author_pairs, training_author_pairs
    from ropg.multistage.training import fine_tune

    config = MultistageConfig.load(overrides={
        **TINY, "work_dir": str(tmp_path / "run"), "data.min_document_chars": 200,
        "data.source": _documents(tmp_path / "documents.jsonl", 12, introduction=False),
        "train.tiny_d_model": 128, "train.tiny_heads": 8, "train.max_steps": 400,
        "train.max_source_tokens": 128, "train.max_target_tokens": 4,
        "author.passage_chars": 150, "author.eval_pairs": 300,
    })  # fmt: skip
    ws = Workspace(config)
    splits = ws.splits()
    pairs = training_author_pairs(ws, 4000)
    trained_users = {p.first_user for p in pairs} | {p.second_user for p in pairs}
    assert not trained_users & set(splits["test"].users)
    examples = author.pair_examples(pairs, config.author.passage_chars)
    model = fine_tune(ws.base_model("tiny-t5"), examples, tmp_path / "author",
                      ws.fine_tune_settings())  # fmt: skip
    held_out = held_out_author_pairs(ws)
    assert {p.first_user for p in held_out} <= set(splits["test"].users)
    generator = ws.fine_tuned_generator(model.model_dir, ws.fine_tuned_generation(2))
    inputs = [source for source, _ in author.pair_examples(held_out, config.author.passage_chars)]
    accuracy = author.author_accuracy(generator.generate(inputs), held_out)
    p_chance = _binomial_p_above_half(round(accuracy * len(held_out)), len(held_out))
    assert accuracy > 0.58 and p_chance < 1e-3, (accuracy, p_chance)
