"""The transformers backend on tiny random models: batching, truncation, identity, scoring."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from generation_fixtures import PROMPTS, single_torch_thread, tiny_model_dir

from ropg.generation import GenerationConfig, GenerationError, get_generator
from ropg.generation.hf import HFGenerator

GREEDY = GenerationConfig(max_new_tokens=6, num_beams=1, batch_size=3)
BEAM = GenerationConfig(max_new_tokens=6, num_beams=3, batch_size=3)


@pytest.fixture(scope="module", autouse=True)
def single_thread() -> Iterator[None]:
    with single_torch_thread():
        yield


@pytest.fixture(scope="session")
def t5_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model_dir(tmp_path_factory, "t5")


@pytest.fixture(scope="session", params=["llama", "gpt2"])
def causal_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model_dir(tmp_path_factory, request.param)


def one_at_a_time(generator: HFGenerator, config: GenerationConfig) -> list[str]:
    single = config.replace(batch_size=1)
    return [generator.generate([prompt], single)[0] for prompt in PROMPTS]


@pytest.mark.parametrize("config", [GREEDY, BEAM], ids=["greedy", "beam"])
def test_seq2seq_batched_equals_single(t5_dir: Path, config: GenerationConfig) -> None:
    generator = get_generator(f"hf:{t5_dir}", show_progress=False)
    assert generator.is_encoder_decoder
    batched = generator.generate(PROMPTS, config)
    assert batched == one_at_a_time(generator, config)
    assert len(set(batched)) > 1, "a degenerate model makes this test meaningless"


@pytest.mark.parametrize("config", [GREEDY, BEAM], ids=["greedy", "beam"])
def test_causal_batched_equals_single(causal_dir: Path, config: GenerationConfig) -> None:
    generator = get_generator(f"hf:{causal_dir}", show_progress=False)
    assert not generator.is_encoder_decoder
    batched = generator.generate(PROMPTS, config)
    assert batched == one_at_a_time(generator, config)
    assert len(set(batched)) > 1


def test_causal_returns_only_new_tokens(causal_dir: Path) -> None:
    generator = HFGenerator(str(causal_dir), show_progress=False)
    tokenizer, model = generator.tokenizer, generator.model
    encoded = tokenizer(PROMPTS[0], return_tensors="pt")
    with torch.inference_mode():
        full = model.generate(**encoded, max_new_tokens=6, do_sample=False, num_beams=1)
    expected = tokenizer.decode(full[0, encoded["input_ids"].shape[1] :], skip_special_tokens=True)
    assert generator.generate([PROMPTS[0]], GREEDY) == [expected]


def test_prompts_are_cut_on_the_right(t5_dir: Path) -> None:
    generator = HFGenerator(str(t5_dir), show_progress=False)
    config = GREEDY.replace(max_input_length=4)
    long_prompt = "the cat sat on the mat and the dog"
    # 4 tokens with the appended </s>: "the cat sat" + </s>
    assert generator.generate([long_prompt], config) == generator.generate(["the cat sat"], config)
    assert generator.generate([long_prompt], GREEDY) != generator.generate(["the cat sat"], GREEDY)


def test_order_is_restored_and_duplicates_agree(t5_dir: Path) -> None:
    generator = HFGenerator(str(t5_dir), show_progress=False)
    prompts = PROMPTS + PROMPTS[::-1]
    outputs = generator.generate(prompts, GREEDY)
    assert outputs[: len(PROMPTS)] == outputs[len(PROMPTS) :][::-1]


def test_on_batch_reports_every_prompt(t5_dir: Path) -> None:
    generator = HFGenerator(str(t5_dir), show_progress=False)
    seen: dict[int, str] = {}
    outputs = generator.generate(PROMPTS, GREEDY, on_batch=lambda i, t: seen.update(zip(i, t)))
    assert [seen[i] for i in range(len(PROMPTS))] == outputs


def test_stop_strings_cut_outputs(t5_dir: Path) -> None:
    generator = HFGenerator(str(t5_dir), show_progress=False)
    plain = generator.generate(PROMPTS, GREEDY)
    word = next(text.split()[1] for text in plain if len(text.split()) > 1)
    stopped = generator.generate(PROMPTS, GREEDY.replace(stop=(word,)))
    assert stopped == [text.split(word)[0] for text in plain]


def test_identity_is_stable_and_tracks_decoding(t5_dir: Path, tmp_path: Path) -> None:
    first = HFGenerator(str(t5_dir), config=GREEDY, show_progress=False)
    second = HFGenerator(str(t5_dir), config=GREEDY, show_progress=False)
    assert first.identity == second.identity
    assert first.identity["backend"] == "hf"
    assert first.identity["dtype"] == "float32"
    assert first.identity["architecture"] == "seq2seq"
    assert "fingerprint" in first.identity
    # speed-only settings do not change it; decoding settings do
    assert first.identity_for(GREEDY.replace(batch_size=64)) == first.identity
    assert first.identity_for(GREEDY.replace(num_beams=4)) != first.identity
    assert first.identity_for(GREEDY.replace(max_new_tokens=7)) != first.identity
    # sampling parameters only matter when sampling
    assert first.identity_for(GREEDY.replace(temperature=0.3)) == first.identity
    sampling = GREEDY.replace(do_sample=True)
    assert first.identity_for(sampling) != first.identity_for(sampling.replace(temperature=0.3))
    # a copied directory keeps the fingerprint; a changed config.json changes it
    copy = tmp_path / "copy"
    shutil.copytree(t5_dir, copy)
    assert HFGenerator(str(copy), config=GREEDY).identity == first.identity
    (copy / "generation_config.json").write_text('{"decoder_start_token_id": 0}')
    assert HFGenerator(str(copy), config=GREEDY).identity != first.identity
    # a revision label replaces the fingerprint
    labelled = HFGenerator(str(t5_dir), config=GREEDY, revision="v1").identity
    assert labelled["revision"] == "v1" and "fingerprint" not in labelled


def test_seq2seq_score_matches_the_loss(t5_dir: Path) -> None:
    generator = HFGenerator(str(t5_dir), config=GREEDY, show_progress=False)
    targets = ["cat", "the dog sat", "five", "good news", "a b", "red", "one two three"]
    scores = generator.score(PROMPTS, targets)
    tokenizer, model = generator.tokenizer, generator.model
    for prompt, target, score in zip(PROMPTS, targets, scores, strict=True):
        inputs = tokenizer(prompt, return_tensors="pt")
        labels = tokenizer(target, return_tensors="pt")["input_ids"]  # appends </s>
        with torch.inference_mode():
            loss = model(**inputs, labels=labels).loss
        assert score == pytest.approx(-loss.item() * labels.shape[1], rel=1e-5, abs=1e-4)


def test_causal_score_matches_manual_log_probs(causal_dir: Path) -> None:
    generator = HFGenerator(str(causal_dir), config=GREEDY, show_progress=False)
    targets = ["cat", "the dog sat", "five", "good news", "a", "red", "one two three"]
    scores = generator.score(PROMPTS, targets)
    no_eos = generator.score(PROMPTS, targets, include_eos=False, batch_size=2)
    tokenizer, model = generator.tokenizer, generator.model
    for prompt, target, score, short in zip(PROMPTS, targets, scores, no_eos, strict=True):
        prompt_ids = tokenizer(prompt)["input_ids"]
        target_ids = tokenizer(target, add_special_tokens=False)["input_ids"] + [1]
        ids = torch.tensor([prompt_ids + target_ids])
        with torch.inference_mode():
            logprobs = torch.log_softmax(model(input_ids=ids).logits[0].float(), dim=-1)
        per_token = [
            logprobs[len(prompt_ids) + j - 1, token].item() for j, token in enumerate(target_ids)
        ]
        assert score == pytest.approx(sum(per_token), abs=1e-4)
        assert short == pytest.approx(sum(per_token[:-1]), abs=1e-4)


def test_score_validates_inputs(t5_dir: Path) -> None:
    generator = HFGenerator(str(t5_dir), show_progress=False)
    with pytest.raises(ValueError, match="2 prompts but 1 targets"):
        generator.score(["a", "b"], ["c"])
    assert generator.score([], []) == []


def test_bad_model_and_dtype_are_clear_errors(tmp_path: Path, t5_dir: Path) -> None:
    with pytest.raises(GenerationError, match="cannot load the model config"):
        HFGenerator(str(tmp_path / "missing"))
    with pytest.raises(GenerationError, match="unknown dtype"):
        HFGenerator(str(t5_dir), dtype="int3")


def test_model_loads_lazily(t5_dir: Path) -> None:
    generator = HFGenerator(str(t5_dir), show_progress=False)
    assert generator.identity
    assert generator._model is None
