"""The CTranslate2 backend on tiny random models: conversion cache, agreement with ``hf``,
prompt budgeting, identity, caching and errors."""

from __future__ import annotations

import os
import random
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from generation_fixtures import (
    PROMPTS,
    SPECIALS,
    WORDS,
    build_tokenizer,
    single_torch_thread,
    tiny_model_dir,
)

from ropg.generation import (
    BackendUnavailableError,
    CachedGenerator,
    GenerationCache,
    GenerationConfig,
    GenerationError,
    generator_names,
    get_generator,
)
from ropg.generation.ct2_backend import CT2Generator
from ropg.generation.ct2_convert import converted_models_root

GREEDY = GenerationConfig(max_new_tokens=8, num_beams=1, batch_size=4)
BEAM = GenerationConfig(max_new_tokens=8, num_beams=4, batch_size=4)


def many_prompts(count: int = 60) -> list[str]:
    rng = random.Random(0)
    extra = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 25))) for _ in range(count)]
    return PROMPTS + extra


@pytest.fixture(scope="module", autouse=True)
def single_thread() -> Iterator[None]:
    with single_torch_thread():
        yield


@pytest.fixture(autouse=True)
def ropg_cache_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test converts into its own cache root (tiny models convert in a fraction of a s)."""
    root = tmp_path / "ropg-cache"
    monkeypatch.setenv("ROPG_CACHE_DIR", str(root))
    return root


@pytest.fixture(scope="session")
def t5_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model_dir(tmp_path_factory, "t5")


@pytest.fixture(scope="session", params=["llama", "gpt2"])
def causal_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model_dir(tmp_path_factory, request.param)


@pytest.fixture(scope="session")
def flan_style_t5_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny T5 as T5 v1.1 / FLAN-T5 configure it: decoder outputs not rescaled."""
    import torch
    from transformers import T5ForConditionalGeneration

    from ropg.benchmark.smoke import tiny_t5_config

    directory = tmp_path_factory.mktemp("tiny-flan-t5")
    config = tiny_t5_config(len(SPECIALS) + len(WORDS))
    if hasattr(config, "scale_decoder_outputs"):  # transformers >= 5 always ties the weights
        config.scale_decoder_outputs = False
    else:
        config.tie_word_embeddings = False
    torch.manual_seed(1)
    T5ForConditionalGeneration(config).save_pretrained(directory)
    build_tokenizer("$A </s>").save_pretrained(directory)
    return directory


def ct2(model: Path | str, **options) -> CT2Generator:
    options = {"show_progress": False, "intra_threads": 1, "device": "cpu", **options}
    return get_generator(f"ct2:{model}", **options)


def hf(model: Path):
    return get_generator(f"hf:{model}", show_progress=False)


def test_registered_with_runtime_options() -> None:
    assert "ct2" in generator_names()
    assert CT2Generator.runtime_options == frozenset({"device", "show_progress"})


def test_converts_once_and_reuses_the_copy(
    t5_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = ct2(t5_dir)
    assert not converted_models_root().exists(), "building a generator converts nothing"
    outputs = first.generate(PROMPTS, GREEDY)
    converted = first.model_dir
    assert converted.parent == converted_models_root()
    assert [p.name for p in converted_models_root().iterdir()] == [converted.name]  # no temp dir
    stamp = (converted / "model.bin").stat().st_mtime_ns

    from ctranslate2.converters import TransformersConverter

    def refuse(*args, **kwargs):
        raise AssertionError("converted a second time")

    monkeypatch.setattr(TransformersConverter, "convert", refuse)
    again = ct2(t5_dir)  # a later run: a new generator (and process) over the same source
    assert again.generate(PROMPTS, GREEDY) == outputs
    assert again.model_dir == converted
    assert (converted / "model.bin").stat().st_mtime_ns == stamp
    # the source's identity keys the copy: a copied directory (same content) reuses it too
    copy = shutil.copytree(t5_dir, tmp_path / "copied-model")
    assert ct2(copy).model_dir == converted


def test_greedy_equals_hf_on_every_prompt(t5_dir: Path) -> None:
    prompts = many_prompts()
    reference = hf(t5_dir).generate(prompts, GREEDY)
    assert ct2(t5_dir).generate(prompts, GREEDY) == reference
    assert len(set(reference)) > 10, "a degenerate model makes this test meaningless"


def test_beam_search_equals_hf_up_to_hf_early_stopping_rule(t5_dir: Path) -> None:
    """CTranslate2 ends a prompt's beam search when ``num_beams`` hypotheses have finished:
    HF's ``early_stopping=True``, where the two agree on every prompt. HF's default
    (``False``) searches on while a running beam may still beat a finished one, and sometimes
    finds a better-scored longer hypothesis: a few prompts differ. With ``length_penalty=0``
    scores only fall as beams grow, so both rules return the same hypothesis."""
    prompts = many_prompts()
    reference = hf(t5_dir)
    ours = ct2(t5_dir).generate(prompts, BEAM)
    default = reference.generate(prompts, BEAM)
    same = sum(a == b for a, b in zip(ours, default, strict=True))
    assert same >= 0.9 * len(prompts)
    reference.model.generation_config.early_stopping = True
    assert ours == reference.generate(prompts, BEAM)
    reference.model.generation_config.early_stopping = False
    flat = BEAM.replace(length_penalty=0.0)
    assert ct2(t5_dir).generate(prompts, flat) == reference.generate(prompts, flat)


def test_flan_t5_output_scaling_survives_conversion(flan_style_t5_dir: Path) -> None:
    """FLAN-T5 does not rescale decoder outputs by ``d_model ** -0.5``; CTranslate2's own
    converter would (under transformers 5), which changes every log-probability, so beam
    search and likelihoods would differ from ``hf`` although greedy outputs would not."""
    reference = hf(flan_style_t5_dir)
    assert getattr(reference.hf_config, "scale_decoder_outputs", False) is False
    reference.model.generation_config.early_stopping = True  # CTranslate2's stopping rule
    prompts = many_prompts(30)
    generator = ct2(flan_style_t5_dir)
    assert generator.generate(prompts, BEAM) == reference.generate(prompts, BEAM)
    targets = ["the cat"] * len(PROMPTS)
    assert generator.score(PROMPTS, targets) == pytest.approx(
        reference.score(PROMPTS, targets), rel=1e-4
    )


def test_batched_equals_one_at_a_time_and_reports_batches(t5_dir: Path) -> None:
    generator = ct2(t5_dir)
    seen: dict[int, str] = {}
    batched = generator.generate(
        PROMPTS, BEAM, on_batch=lambda ids, texts: seen.update(zip(ids, texts))
    )
    single = [generator.generate([p], BEAM.replace(batch_size=1))[0] for p in PROMPTS]
    assert batched == single
    assert seen == dict(enumerate(batched))


def test_sampling_is_seeded(t5_dir: Path) -> None:
    prompts = many_prompts(20)
    sample = GREEDY.replace(do_sample=True, temperature=1.5, top_k=0, top_p=0.95, seed=3)
    generator = ct2(t5_dir)
    first = generator.generate(prompts, sample)
    assert generator.generate(prompts, sample) == first
    assert generator.generate(prompts, sample.replace(seed=4)) != first
    assert first != generator.generate(prompts, GREEDY)


def test_prompt_budget_is_the_hf_backends(t5_dir: Path) -> None:
    config = GREEDY.replace(max_input_length=4)
    long_prompt = "the cat sat on the mat and the dog"
    generator, reference = ct2(t5_dir), hf(t5_dir)
    cut = generator.generate([long_prompt], config)
    assert cut == reference.generate([long_prompt], config)
    # 4 tokens with the appended </s>: "the cat sat" + </s>
    assert cut == generator.generate(["the cat sat"], config)
    assert generator.generate([long_prompt], GREEDY) != cut
    assert generator.generate([long_prompt], GREEDY) == reference.generate([long_prompt], GREEDY)


def test_scores_equal_hf(t5_dir: Path) -> None:
    targets = ["the cat", "dog dog", "a", "red blue", "sad", "one two three", "the"]
    for include_eos in (True, False):
        ours = ct2(t5_dir).score(PROMPTS, targets, include_eos=include_eos)
        theirs = hf(t5_dir).score(PROMPTS, targets, include_eos=include_eos)
        assert ours == pytest.approx(theirs, rel=1e-4)


def test_causal_models_return_only_new_tokens_like_hf(causal_dir: Path) -> None:
    generator, reference = ct2(causal_dir), hf(causal_dir)
    assert generator.identity["architecture"] == "causal"
    for config in (GREEDY, BEAM):
        assert generator.generate(PROMPTS, config) == reference.generate(PROMPTS, config)
    targets = ["the cat"] * len(PROMPTS)
    assert generator.score(PROMPTS, targets) == pytest.approx(
        reference.score(PROMPTS, targets), rel=1e-4
    )


def test_identity_names_compute_type_not_runtime_options(t5_dir: Path) -> None:
    fp32 = ct2(t5_dir, compute_type="float32")
    identity = fp32.identity
    assert identity["backend"] == "ct2" and identity["compute_type"] == "float32"
    assert identity["fingerprint"] == hf(t5_dir).identity["fingerprint"]  # the source's
    assert ct2(t5_dir).identity == identity  # "default": the checkpoint's float32 here
    assert ct2(t5_dir, intra_threads=2, inter_threads=2).identity == identity
    int8 = ct2(t5_dir, compute_type="int8")
    assert int8.identity["compute_type"] == "int8" and int8.identity != identity
    assert not converted_models_root().exists(), "identities convert and load nothing"
    int8_outputs = int8.generate(PROMPTS, GREEDY)
    assert int8.engine.compute_type.startswith("int8") and len(int8_outputs) == len(PROMPTS)


def test_cached_generator_generates_nothing_twice(t5_dir: Path, tmp_path: Path) -> None:
    cache = GenerationCache(tmp_path / "outputs.sqlite")
    first = CachedGenerator(ct2(t5_dir), cache)
    outputs = first.generate(PROMPTS, BEAM)
    assert first.misses == len(PROMPTS)
    fresh = ct2(t5_dir)  # a later run: everything cached, so nothing converts or loads
    second = CachedGenerator(fresh, cache)
    assert second.generate(PROMPTS, BEAM) == outputs
    assert second.misses == 0 and second.hits == len(PROMPTS)
    assert fresh._engine is None and fresh._model_dir is None


def test_an_already_converted_directory_needs_its_tokenizer(t5_dir: Path, tmp_path: Path) -> None:
    source = ct2(t5_dir)
    outputs = source.generate(PROMPTS, GREEDY)
    converted = shutil.copytree(source.model_dir, tmp_path / "converted")
    with pytest.raises(GenerationError, match="tokenizer"):
        ct2(converted).generate(PROMPTS, GREEDY)
    direct = ct2(converted, tokenizer=str(t5_dir))
    assert direct.identity["model"] == "local" and direct.identity["format"] == "ctranslate2"
    assert direct.generate(PROMPTS, GREEDY) == outputs


def one_line_error(call) -> str:
    with pytest.raises(GenerationError) as caught:
        call()
    message = str(caught.value)
    assert message and "\n" not in message
    return message


def test_bad_specs_and_directories_give_one_line_errors(tmp_path: Path, t5_dir: Path) -> None:
    assert "no model directory" in one_line_error(lambda: ct2(tmp_path / "missing"))
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "config" in one_line_error(lambda: ct2(empty))
    assert "compute_type" in one_line_error(lambda: ct2(t5_dir, compute_type="fp7"))
    assert "device" in one_line_error(lambda: ct2(t5_dir, device="tpu"))
    assert "device" in one_line_error(lambda: ct2(t5_dir, device="cpu:1"))
    on_gpu = ct2(t5_dir, device="cuda:1")
    assert on_gpu.device_index == 1  # as an endpoint passes it; nothing is loaded yet
    if on_gpu._ct2.get_cuda_device_count() < 2:  # this machine: a clear error at load time
        message = one_line_error(lambda: on_gpu.engine)
        assert "cuda:1" in message and "CUDA device(s)" in message
    one_line_error(lambda: get_generator("ct2:"))


def test_a_failed_conversion_is_a_one_line_error_and_leaves_nothing(
    t5_dir: Path, tmp_path: Path
) -> None:
    broken = shutil.copytree(t5_dir, tmp_path / "broken")
    for weights in broken.glob("*.safetensors"):
        weights.write_bytes(b"not a safetensors file")
    generator = ct2(broken)
    assert "cannot convert" in one_line_error(lambda: generator.generate(PROMPTS, GREEDY))
    assert list(converted_models_root().iterdir()) == []  # no half-written model


def test_missing_ctranslate2_names_the_extra(t5_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ctranslate2", None)  # import fails as if not installed
    with pytest.raises(BackendUnavailableError, match=r"ropg\[ct2\]"):
        ct2(t5_dir)


@pytest.mark.parametrize("user_value", [None, "ACTIVE"])
def test_openmp_wait_policy_is_set_for_the_ctranslate2_import_only(
    monkeypatch: pytest.MonkeyPatch, user_value: str | None
) -> None:
    """CTranslate2's OpenMP runtime reads OMP_WAIT_POLICY when it loads; ropg asks for
    sleeping (not spinning) threads then, keeps a user's own value, and leaves the
    environment as it was for torch and child processes."""
    import ropg.generation.ct2_backend as backend

    if user_value is None:
        monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    else:
        monkeypatch.setenv("OMP_WAIT_POLICY", user_value)
    monkeypatch.delitem(sys.modules, "ctranslate2")  # as in a process that has not loaded it
    seen = []
    fake = SimpleNamespace(
        import_module=lambda name: seen.append(os.environ.get("OMP_WAIT_POLICY"))
    )
    monkeypatch.setattr(backend, "importlib", fake)
    backend.import_ctranslate2()
    assert seen == [user_value or "PASSIVE"]
    assert os.environ.get("OMP_WAIT_POLICY") == user_value
