"""The LLM endpoint: one prompt budget, runtime options by declaration, tokenizer, cache."""

from __future__ import annotations

import pytest
from generation_fixtures import PlainGenerator, single_torch_thread, tiny_model_dir

from ropg.generation import GenerationError, register_generator
from ropg.generation.endpoint import EndpointConfig, LLMEndpoint
from ropg.generation.registry import runtime_options

register_generator("plain-test", PlainGenerator)


def test_the_prompt_budget_is_the_input_cut_unless_set(tmp_path) -> None:
    wide = LLMEndpoint(EndpointConfig("plain-test:x", max_length=1024, cache=tmp_path / "c"))
    assert wide.generation_config.max_input_length == 1024
    explicit = EndpointConfig("plain-test:x", max_length=1024, generation={"max_input_length": 300})
    assert LLMEndpoint(explicit).generation_config.max_input_length == 300


def test_hf_cuts_prompts_at_the_budget(tmp_path, tmp_path_factory) -> None:
    model = tiny_model_dir(tmp_path_factory, "t5")
    config = EndpointConfig(
        f"hf:{model}", max_length=6, generation={"num_beams": 1, "max_new_tokens": 2},
        cache=tmp_path / "cache.sqlite",
    )  # fmt: skip
    llm = LLMEndpoint(config)
    backend = llm.generator.generator
    assert backend.config.max_input_length == 6
    seen = []
    original = backend.model.generate

    def spy(input_ids, attention_mask, **kwargs):
        seen.append(int(attention_mask.sum(dim=1).max()))
        return original(input_ids=input_ids, attention_mask=attention_mask, **kwargs)

    backend.model.generate = spy
    with single_torch_thread():
        llm.generate(["the cat sat on the mat and the dog sat on the cat"])
    assert seen == [6]
    assert llm.prompt_tokenizer is backend.tokenizer


def test_runtime_options_are_set_only_where_declared(tmp_path) -> None:
    assert runtime_options("hf:anything") >= {"device", "show_progress"}
    assert "device" not in runtime_options("reader:profile")
    assert runtime_options("plain-test:x") == frozenset()  # declares nothing
    plain = LLMEndpoint(EndpointConfig("plain-test:x", device="cpu", cache=tmp_path / "c"))
    assert set(plain.generator.generator.options) == {"config"}  # no device, no show_progress
    assert plain.generate(["abc"]) == ["cba"]


def test_one_decoding_config_given_once(tmp_path) -> None:
    llm = LLMEndpoint(
        EndpointConfig("reader:profile", generation={"num_beams": 1}, cache=tmp_path / "c")
    )
    assert llm.generator.generator.config == llm.generation_config
    assert llm.identity["decoding"]["max_input_length"] == 512


def test_clear_errors(tmp_path) -> None:
    with pytest.raises(GenerationError, match="unknown generation config keys: beams"):
        LLMEndpoint(EndpointConfig("reader:profile", generation={"beams": 2}))
    with pytest.raises(GenerationError, match="max_new_tokens must be >= 1"):
        LLMEndpoint(EndpointConfig("reader:profile", generation={"max_new_tokens": 0}))
    llm = LLMEndpoint(EndpointConfig("plain-test:x", cache=tmp_path / "c"))
    with pytest.raises(GenerationError, match="no tokenizer for prompt budgets"):
        _ = llm.prompt_tokenizer
    bad = LLMEndpoint(EndpointConfig("reader:profile", options={"bogus": 1}))
    with pytest.raises(GenerationError, match="rejected its options"):
        _ = bad.generator
