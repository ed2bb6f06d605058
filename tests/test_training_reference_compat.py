"""``reference_compat``: padding targets, KD and RL losses equal to the LaMP reference's.

The expected values are computed by :func:`reference_kd` and :func:`reference_rl`, a line-by-line
transcription of ``KDReaderToRetrieverTrainer._forward`` and ``RLReaderToRetrieverTrainer.
_forward`` of ``ROPG/trainers/trainer.py`` (LaMP-Benchmark/LaMP, commit 38c9d4d): the per-item
scores of the LLM (``scores_gold``) come the reference's way, accuracy for LaMP-2 and the raw
absolute error (MAE) for LaMP-3, from the outputs in the feedback file, not from ropg's
feedback values; the padding's targets are never written, as in the reference.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import save_tiny_bert

from ropg.feedback.jsonl import HEADER_KEY, dumps_record
from ropg.lamp import load_split
from ropg.lamp.synthetic import sample_path
from ropg.training.data import CandidateCollator, load_candidate_examples, reference_pad_feedback

torch = pytest.importorskip("torch")
nn = torch.nn

CANDIDATES = 4
LABEL_FIELD = {"LaMP-2": "tag", "LaMP-3": "score"}
GOLD_METRIC = {"LaMP-2": "accuracy", "LaMP-3": "mae"}  # the reference's reader_gold_metric


# -- the reference, transcribed (ROPG/trainers/trainer.py) ---------------------------------------
def reference_kd(scores, scores_gold, target_txt, greater_is_better, metric, temperature=1.0):
    """``(loss, gold_scores)`` of ``KDReaderToRetrieverTrainer._forward`` given the scores."""
    ctx_size = scores.shape[1]
    probs = torch.softmax(scores / temperature, dim=-1)
    if greater_is_better:
        gold_scores = torch.zeros_like(scores, device=scores.device)
        for i, sample in enumerate(scores_gold):
            for j, score in enumerate(sample):
                gold_scores[i, j] = score[metric]
    else:
        target_numerical = [int(x) for x in target_txt]
        worst_score_array = [max(abs(x - 1), abs(x - 5)) for x in target_numerical]
        gold_scores = torch.tensor(
            [[float(x) for y in range(ctx_size)] for x in worst_score_array], device=scores.device
        )
        for i, sample in enumerate(scores_gold):
            for j, score in enumerate(sample):
                gold_scores[i, j] = (worst_score_array[i] - score[metric]) / worst_score_array[i]
    loss_fn = nn.CrossEntropyLoss()
    loss = loss_fn(probs, torch.softmax(gold_scores / temperature, dim=-1))
    return loss, gold_scores


def reference_rl(scores, scores_gold, target_txt, greater_is_better, metric, sample_idx):
    """``(loss, gold_scores)`` of ``RLReaderToRetrieverTrainer._forward`` for a given draw."""
    ctx_size = scores.shape[1]
    probs = torch.softmax(scores, dim=-1)
    if greater_is_better:
        gold_scores = torch.zeros_like(scores, device=scores.device)
        for i, sample in enumerate(scores_gold):
            for j, score in enumerate(sample):
                gold_scores[i, j] = score[metric] - sample[0][metric]
    else:
        target_numerical = [int(x) for x in target_txt]
        worst_score_array = [max(abs(x - 1), abs(x - 5)) for x in target_numerical]
        gold_scores = torch.tensor(
            [[float(x) for y in range(ctx_size)] for x in worst_score_array], device=scores.device
        )
        for i, sample in enumerate(scores_gold):
            for j, score in enumerate(sample):
                gold_scores[i, j] = (sample[0][metric] - score[metric]) / worst_score_array[i]
    probs = torch.gather(probs, 1, sample_idx)
    gold_scores = torch.gather(gold_scores, 1, sample_idx)
    x = torch.mul(torch.log(probs), gold_scores)  # loss_fn_reinforce
    loss = -(torch.sum(x) / (probs.shape[0] * probs.shape[1]))
    return loss, gold_scores


def reference_scores_gold(task: str, gold: str, record: dict) -> list[dict[str, float]]:
    """The reference's per-item reader scores of the real candidates (no padding)."""
    if task == "LaMP-3":
        return [{"mae": abs(float(c["output"]) - float(gold))} for c in record["candidates"]]
    return [{"accuracy": float(c["output"] == gold)} for c in record["candidates"]]


# -- data -------------------------------------------------------------------------------------------
def feedback_records(split) -> list[dict]:
    """Candidates = the first profile items; output = the item's own label (so feedback varies)."""
    task = split.task
    records = []
    for example in split.examples:
        entries = []
        for rank, item in enumerate(example.profile[:CANDIDATES]):
            output = str(item[LABEL_FIELD[task.name]])
            entries.append(
                {
                    "rank": rank,
                    "index": rank,
                    "item_id": str(item["id"]),
                    "output": output,
                    "score": task.example_score(example.gold, output),
                }
            )
        records.append({"id": example.id, "gold": example.gold, "candidates": entries})
    return records


def write_feedback(path: Path, task: str, records: list[dict]) -> Path:
    header = {"kind": "candidates", "task": task, "split": "train", "candidates": CANDIDATES}
    lines = [dumps_record({HEADER_KEY: header})] + [dumps_record(r) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module", params=["LaMP-2", "LaMP-3"])
def compat(request, tmp_path_factory):
    """A batch of every short (padded) example and four full ones, with the reference's inputs."""
    task = request.param
    split = load_split(sample_path(), task, "train")
    records = feedback_records(split)
    path = write_feedback(tmp_path_factory.mktemp("compat") / "fb.jsonl", task, records)
    examples = load_candidate_examples(
        split, [str(path)], candidates=CANDIDATES, use_date=True, reference_compat=True
    )
    short = [e for e in examples if e.real < CANDIDATES]
    chosen = short + [e for e in examples if e.real == CANDIDATES][:4]
    by_id = {r["id"]: r for r in records}
    return {
        "task": task,
        "split": split,
        "path": path,
        "examples": chosen,
        "scores_gold": [
            reference_scores_gold(task, by_id[e.id]["gold"], by_id[e.id]) for e in chosen
        ],
        "targets": [by_id[e.id]["gold"] for e in chosen],
        "reference": {"greater_is_better": task != "LaMP-3", "metric": GOLD_METRIC[task]},
    }


def random_scores(rows: int, seed: int = 0) -> torch.Tensor:
    return torch.randn((rows, CANDIDATES), generator=torch.Generator().manual_seed(seed)) * 2


def draws(batch) -> torch.Tensor:
    """One drawn slot per row: the first padding slot where there is one, else the last."""
    picks = []
    for row in batch["padding"]:
        padded = torch.nonzero(row).flatten()
        picks.append(int(padded[0]) if len(padded) else CANDIDATES - 1)
    return torch.tensor(picks).view(-1, 1)


def test_the_sample_has_padded_and_empty_profiles(compat):
    reals = [e.real for e in compat["examples"]]
    assert 0 in reals and any(0 < r < CANDIDATES for r in reals) and CANDIDATES in reals


def test_padding_targets_are_the_reference_s_initial_values(compat, bert_tokenizer):
    batch = CandidateCollator(bert_tokenizer, 32, CANDIDATES)(compat["examples"])
    assert batch["mask"].all()  # the reference scores its "" padding like real candidates
    assert batch["padding"].sum(dim=1).tolist() == [CANDIDATES - e.real for e in compat["examples"]]
    _, expected = reference_kd(
        random_scores(len(compat["examples"])), compat["scores_gold"], compat["targets"],
        **compat["reference"],
    )  # fmt: skip
    assert torch.allclose(batch["feedback"], expected.float(), atol=1e-6)
    padding = batch["feedback"][batch["padding"]]
    if compat["task"] == "LaMP-3":  # the raw worst error: 2 to 4, above every real target
        assert set(padding.tolist()) <= {2.0, 3.0, 4.0}
        assert reference_pad_feedback(compat["split"].task, "3") == 2.0
        assert reference_pad_feedback(compat["split"].task, "1") == 4.0
    else:
        assert padding.eq(0).all()


@pytest.mark.parametrize("temperature", [1.0, 0.5])
def test_kd_loss_is_the_reference_s(compat, bert_tokenizer, temperature):
    from ropg.training.losses import kd_loss

    batch = CandidateCollator(bert_tokenizer, 32, CANDIDATES)(compat["examples"])
    scores = random_scores(len(compat["examples"]), seed=1)
    ours = kd_loss(
        scores, batch["feedback"], batch["mask"], temperature=temperature, reference_compat=True
    ).loss
    theirs, _ = reference_kd(
        scores, compat["scores_gold"], compat["targets"], temperature=temperature,
        **compat["reference"],
    )  # fmt: skip
    assert ours.item() == pytest.approx(theirs.item(), rel=1e-6)


def test_rl_rewards_and_loss_are_the_reference_s(compat, bert_tokenizer):
    from ropg.training.losses import reinforce_loss

    batch = CandidateCollator(bert_tokenizer, 32, CANDIDATES)(compat["examples"])
    scores = random_scores(len(compat["examples"]), seed=2)
    sampled = draws(batch)
    theirs, rewards = reference_rl(
        scores, compat["scores_gold"], compat["targets"], sample_idx=sampled, **compat["reference"]
    )
    out = reinforce_loss(
        scores, batch["feedback"], batch["mask"], sampled=sampled, padding=batch["padding"]
    )
    assert out.loss.item() == pytest.approx(theirs.item(), rel=1e-6)
    assert out.reward.item() == pytest.approx(rewards.mean().item(), rel=1e-6, abs=1e-7)
    for row in range(len(compat["examples"])):  # row by row: each reward, not just their sum
        one = slice(row, row + 1)
        ours = reinforce_loss(
            scores[one], batch["feedback"][one], batch["mask"][one], sampled=sampled[one],
            padding=batch["padding"][one],
        )  # fmt: skip
        assert ours.reward.item() == pytest.approx(rewards[row, 0].item(), abs=1e-6)
    padded_rows = batch["padding"].any(dim=1)
    if compat["task"] != "LaMP-3":  # padding's reward is 0, not 0 - feedback(d0)
        assert rewards[padded_rows].eq(0).all()


def test_default_masks_padding_instead(compat, bert_tokenizer):
    masked = load_candidate_examples(
        compat["split"], [str(compat["path"])], candidates=CANDIDATES, use_date=True
    )
    batch = CandidateCollator(bert_tokenizer, 32, CANDIDATES)(masked)
    assert not batch["padding"].any()
    assert batch["mask"].sum(dim=1).tolist() == [e.real for e in masked]
    assert all(len(e.documents) == e.real for e in masked)


@pytest.mark.parametrize("method", ["kd", "rl"])
def test_trainer_step_is_the_reference_s(compat, tmp_path, bert_tokenizer, method):
    """Through the trainer: its batch loss under ``reference_compat`` is the reference's loss
    of the same scores (and, for RL, of the same draw)."""
    from ropg.training.config import RopgTrainConfig
    from ropg.training.losses import policy_probabilities, sample_candidates
    from ropg.training.model import score_batch
    from ropg.training.trainer import RopgTrainer, example_seed

    model = save_tiny_bert(
        tmp_path / "bert", bert_tokenizer, num_hidden_layers=1,
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
    )  # fmt: skip
    config = RopgTrainConfig.from_dict(
        {
            "method": method, "task": compat["task"], "data": str(sample_path()),
            "train_feedback": [str(compat["path"])], "model": str(model),
            "candidates": CANDIDATES, "max_length": 32, "reference_compat": True,
            "per_device_batch_size": 8, "effective_batch_size": 8, "mixed_precision": "no",
            "output_dir": str(tmp_path / "out"),
        }
    )  # fmt: skip
    trainer = RopgTrainer(config)
    trainer._setup()
    batch = trainer.collator(compat["examples"])
    loss, _ = trainer.batch_loss(batch, epoch=3)
    with torch.no_grad():
        scores = score_batch(trainer.model, batch, trainer.settings, None).float()
    inputs = (scores, compat["scores_gold"], compat["targets"])
    if method == "kd":
        theirs, _ = reference_kd(*inputs, **compat["reference"])
    else:
        seeds = [example_seed(config.seed, 3, p) for p in batch["positions"].tolist()]
        sampled = sample_candidates(policy_probabilities(scores), 1, seeds=seeds)
        theirs, _ = reference_rl(*inputs, sample_idx=sampled, **compat["reference"])
    assert loss.item() == pytest.approx(theirs.item(), rel=1e-5, abs=1e-7)
