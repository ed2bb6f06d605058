"""ROPG-KD and ROPG-RL losses against hand-computed values for a 3-candidate example."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from ropg.training.losses import (  # noqa: E402
    kd_loss,
    policy_probabilities,
    reinforce_loss,
    resolve_baseline,
    sample_candidates,
)

SCORES = [1.0, 2.0, 0.5]
FEEDBACK = [0.0, 1.0, 0.5]

# By hand: teacher t = softmax(f) = [1, e, e^0.5] / (1 + e + e^0.5), student p = softmax(s).
Z_T = 1 + math.e + math.exp(0.5)
Z_S = math.e + math.exp(2.0) + math.exp(0.5)
TEACHER = [1 / Z_T, math.e / Z_T, math.exp(0.5) / Z_T]
LOG_P = [s - math.log(Z_S) for s in SCORES]  # [-1.4644, -0.4644, -1.9644]
KL = sum(t * (math.log(t) - lp) for t, lp in zip(TEACHER, LOG_P))


def tensors(scores=SCORES, feedback=FEEDBACK, requires_grad=False):
    s = torch.tensor([scores], dtype=torch.float64, requires_grad=requires_grad)
    return s, torch.tensor([feedback], dtype=torch.float64)


def test_kd_matches_hand_computed_kl_and_gradient():
    assert KL == pytest.approx(0.0912950, abs=1e-7)
    scores, feedback = tensors(requires_grad=True)
    out = kd_loss(scores, feedback)
    assert out.loss.item() == pytest.approx(KL, abs=1e-12)
    assert out.kl.item() == pytest.approx(KL, abs=1e-12)
    out.loss.backward()  # d KL / d s = p - t
    expected = [math.exp(lp) - t for lp, t in zip(LOG_P, TEACHER)]
    assert scores.grad[0].tolist() == pytest.approx(expected, abs=1e-12)


def test_kd_temperature_divides_both_distributions():
    scores, feedback = tensors()
    out = kd_loss(scores * 2, feedback * 2, temperature=2.0)
    assert out.loss.item() == pytest.approx(KL, abs=1e-12)


def test_kd_reference_compat_is_the_double_softmax():
    # CrossEntropyLoss(softmax(s) as logits, soft target t) = -sum t * log_softmax(p)
    p = [math.exp(lp) for lp in LOG_P]
    log_z = math.log(sum(math.exp(x) for x in p))
    expected = -sum(t * (x - log_z) for t, x in zip(TEACHER, p))
    assert expected == pytest.approx(1.0507454, abs=1e-7)
    scores, feedback = tensors(requires_grad=True)
    out = kd_loss(scores, feedback, reference_compat=True)
    assert out.loss.item() == pytest.approx(expected, abs=1e-12)
    assert out.kl.item() == pytest.approx(KL, abs=1e-12)  # logged KL stays the true KL
    reference = torch.nn.CrossEntropyLoss()(
        torch.softmax(scores, dim=-1), torch.tensor([TEACHER], dtype=torch.float64)
    )
    assert out.loss.item() == pytest.approx(reference.item(), abs=1e-12)


@pytest.mark.parametrize(
    ("sampled", "expected"),
    [
        (1, -LOG_P[1] * (1.0 - 0.0)),  # reward = f(d) - f(d0) = 1
        (2, -LOG_P[2] * (0.5 - 0.0)),  # reward = 0.5
        (0, 0.0),  # the initial top candidate: reward 0
    ],
)
def test_rl_initial_baseline(sampled, expected):
    scores, feedback = tensors(requires_grad=True)
    out = reinforce_loss(scores, feedback, sampled=torch.tensor([[sampled]]))
    assert out.loss.item() == pytest.approx(expected, abs=1e-12)
    assert out.reward.item() == pytest.approx(FEEDBACK[sampled] - FEEDBACK[0])
    out.loss.backward()  # -reward * d log p(d) / d s = -reward * (onehot(d) - p)
    reward = FEEDBACK[sampled] - FEEDBACK[0]
    grad = [-reward * ((i == sampled) - math.exp(LOG_P[i])) for i in range(3)]
    assert scores.grad[0].tolist() == pytest.approx(grad, abs=1e-12)


def test_rl_leave_one_out_baseline():
    scores, feedback = tensors()
    out = reinforce_loss(scores, feedback, sampled=torch.tensor([[1, 2]]))
    # rewards: f1 - f2 = 0.5 and f2 - f1 = -0.5; loss = -(0.5 log p1 - 0.5 log p2) / 2
    expected = -(0.5 * LOG_P[1] - 0.5 * LOG_P[2]) / 2
    assert expected == pytest.approx(-0.375, abs=1e-12)  # = -(s1 - s2) / 4
    assert out.loss.item() == pytest.approx(expected, abs=1e-12)
    assert out.reward.item() == pytest.approx(0.0)
    three = reinforce_loss(scores, feedback, sampled=torch.tensor([[1, 1, 0]]))
    rewards = [1 - 0.5, 1 - 0.5, 0 - 1.0]
    expected = -sum(LOG_P[i] * r for i, r in zip([1, 1, 0], rewards)) / 3
    assert three.loss.item() == pytest.approx(expected, abs=1e-12)
    none = reinforce_loss(scores, feedback, sampled=torch.tensor([[2]]), baseline="none")
    assert none.loss.item() == pytest.approx(-LOG_P[2] * 0.5, abs=1e-12)


def test_baseline_resolution():
    assert resolve_baseline("auto", 1) == "initial"
    assert resolve_baseline("auto", 4) == "leave_one_out"
    with pytest.raises(ValueError):
        resolve_baseline("leave_one_out", 1)


def test_masked_candidate_changes_nothing():
    padded_scores = torch.tensor([SCORES + [100.0]], dtype=torch.float64, requires_grad=True)
    padded_feedback = torch.tensor([FEEDBACK + [5.0]], dtype=torch.float64)
    mask = torch.tensor([[True, True, True, False]])
    for reference_compat in (False, True):
        plain = kd_loss(*tensors(), reference_compat=reference_compat).loss
        masked = kd_loss(padded_scores, padded_feedback, mask, reference_compat=reference_compat)
        assert masked.loss.item() == pytest.approx(plain.item(), abs=1e-12)
    kd_loss(padded_scores, padded_feedback, mask).loss.backward()
    assert padded_scores.grad[0, 3].item() == 0.0
    assert torch.isfinite(padded_scores.grad).all()
    padded_scores.grad = None
    out = reinforce_loss(padded_scores, padded_feedback, mask, sampled=torch.tensor([[1]]))
    assert out.loss.item() == pytest.approx(-LOG_P[1], abs=1e-12)
    out.loss.backward()
    assert padded_scores.grad[0, 3].item() == 0.0
    with pytest.raises(ValueError, match="masked"):
        reinforce_loss(padded_scores, padded_feedback, mask, sampled=torch.tensor([[3]]))


def test_rows_without_candidates_are_left_out_of_the_mean():
    scores = torch.tensor([SCORES, [0.0, 0.0, 0.0]], dtype=torch.float64, requires_grad=True)
    feedback = torch.tensor([FEEDBACK, [1.0, 1.0, 1.0]], dtype=torch.float64)
    mask = torch.tensor([[True, True, True], [False, False, False]])
    out = kd_loss(scores, feedback, mask)
    assert out.loss.item() == pytest.approx(KL, abs=1e-12)
    out.loss.backward()
    assert torch.isfinite(scores.grad).all() and scores.grad[1].abs().sum() == 0
    rl = reinforce_loss(scores, feedback, mask, sampled=torch.tensor([[1], [0]]))
    assert rl.loss.item() == pytest.approx(-LOG_P[1], abs=1e-12)
    # a batch with two examples averages: KD of (x, x) is KL
    both = kd_loss(torch.tensor([SCORES, SCORES]), torch.tensor([FEEDBACK, FEEDBACK]))
    assert both.loss.item() == pytest.approx(KL, abs=1e-6)


def test_sampling_is_seeded_and_never_draws_masked_slots():
    scores = torch.tensor([SCORES + [9.0]] * 3)
    mask = torch.tensor([[True, True, True, False]] * 3)
    probs = policy_probabilities(scores, mask)
    assert probs[0].tolist() == pytest.approx([math.exp(lp) for lp in LOG_P] + [0.0], abs=1e-6)
    first = sample_candidates(probs, 200, seeds=[1, 2, 3])
    again = sample_candidates(probs, 200, seeds=[1, 2, 3])
    assert torch.equal(first, again) and first.shape == (3, 200)
    assert not torch.equal(first[0], first[1])
    assert int(first.max()) <= 2
    alone = sample_candidates(probs[1:2], 200, seeds=[2])  # independent of the batch
    assert torch.equal(alone[0], first[1])
    share = (first == 1).float().mean().item()  # p(1) = 0.63
    assert 0.5 < share < 0.75
    generator = torch.Generator().manual_seed(0)
    out = reinforce_loss(scores, scores, mask, samples=3, generator=generator)
    assert out.sampled.shape == (3, 3) and int(out.sampled.max()) <= 2
    # seeds= draws exactly what sample_candidates draws with them (the trainer's per-example seeds)
    seeded = reinforce_loss(scores, scores, mask, samples=4, seeds=[1, 2, 3])
    assert torch.equal(seeded.sampled, sample_candidates(probs, 4, seeds=[1, 2, 3]))
    given = reinforce_loss(scores, scores, mask, sampled=seeded.sampled)
    assert seeded.loss.item() == given.loss.item()
