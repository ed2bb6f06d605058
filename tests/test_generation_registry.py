"""Spec parsing, plug-ins, the decoding config, and the vLLM backend's glue (with a fake vLLM)."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from generation_fixtures import EchoGenerator, PlainGenerator, build_tokenizer, tiny_model_dir

from ropg.generation import (
    BackendUnavailableError,
    GenerationConfig,
    GenerationError,
    Generator,
    GeneratorSpec,
    apply_stop,
    generator_names,
    get_generator,
    length_sorted_batches,
    parse_generator_spec,
    register_generator,
)
from ropg.generation.registry import _BACKENDS


@pytest.fixture(scope="session")
def t5_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_model_dir(tmp_path_factory, "t5")


@pytest.mark.parametrize(
    ("spec", "backend", "target"),
    [
        ("hf:google/flan-t5-xxl", "hf", "google/flan-t5-xxl"),
        ("hf:/path/to/model", "hf", "/path/to/model"),
        ("vllm:meta-llama/Llama-3.1-8B", "vllm", "meta-llama/Llama-3.1-8B"),
        ("openai:http://host:8000/v1#model-name", "openai", "http://host:8000/v1#model-name"),
        ("openai-chat:https://h/v1#m", "openai-chat", "https://h/v1#m"),
        ("my_pkg.gens:MyGen", "my_pkg.gens:MyGen", ""),
        ("my_pkg.gens:MyGen:http://x:1#y", "my_pkg.gens:MyGen", "http://x:1#y"),
    ],
)
def test_parse_specs(spec: str, backend: str, target: str) -> None:
    assert parse_generator_spec(spec) == GeneratorSpec(backend, target)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("google/flan-t5-xxl", "has no backend; write e.g. 'hf:google/flan-t5-xxl'"),
        ("hf:", "names no model"),
        ("nope-backend:x", "unknown generator backend 'nope-backend'"),
        ("no_such_module_xyz:Gen", "cannot import generator module"),
        ("generation_fixtures:Missing", "has no 'Missing'"),
        ("generation_fixtures:PROMPTS", "is not a generator"),
    ],
)
def test_spec_errors(spec: str, message: str) -> None:
    with pytest.raises(GenerationError, match=message):
        get_generator(spec)


def test_builtin_names() -> None:
    assert {"hf", "vllm", "openai", "openai-chat"} <= set(generator_names())


def test_plugin_by_module_path() -> None:
    plain = get_generator("generation_fixtures:PlainGenerator:some-model", batch_size=5)
    assert isinstance(plain, PlainGenerator) and isinstance(plain, Generator)
    assert plain.target == "some-model" and plain.config.batch_size == 5
    assert get_generator("generation_fixtures:PlainGenerator").target == "plain"


def test_registered_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(_BACKENDS, "echo-test", lambda target, **o: EchoGenerator(model=target))
    assert get_generator("echo-test:abc").identity["model"] == "abc"
    register_generator("echo-dotted", "generation_fixtures:PlainGenerator")
    try:
        assert get_generator("echo-dotted:zz").target == "zz"
    finally:
        _BACKENDS.pop("echo-dotted")
    with pytest.raises(ValueError):
        register_generator("a:b", EchoGenerator)


def test_hf_spec_builds_an_hf_generator(t5_dir: Path) -> None:
    from ropg.generation.hf import HFGenerator

    generator = get_generator(f"hf:{t5_dir}", config=GenerationConfig(num_beams=2))
    assert isinstance(generator, HFGenerator) and generator.config.num_beams == 2


def test_missing_vllm_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)  # makes `import vllm` fail
    with pytest.raises(BackendUnavailableError, match=r"pip install 'ropg\[vllm\]'") as info:
        get_generator("vllm:meta-llama/Llama-3.1-8B")
    assert isinstance(info.value, ImportError)


class FakeLLM:
    """Just enough of ``vllm.LLM`` for the backend's glue."""

    def __init__(self, **options: Any) -> None:
        self.options = options
        self.tokenizer = build_tokenizer("<s> $A")
        self.calls: list[tuple[str, Any]] = []

    def get_tokenizer(self) -> Any:
        return self.tokenizer

    def generate(self, prompts: list[dict], params: Any, use_tqdm: bool = True) -> list[Any]:
        self.calls.append(("generate", params))
        if params.options.get("prompt_logprobs"):
            return [
                SimpleNamespace(
                    prompt_logprobs=[None]
                    + [{t: SimpleNamespace(logprob=-0.5)} for t in p["prompt_token_ids"][1:]]
                )
                for p in prompts
            ]
        return [
            SimpleNamespace(outputs=[SimpleNamespace(text=f"n={len(p['prompt_token_ids'])}")])
            for p in prompts
        ]

    def beam_search(self, prompts: list[dict], params: Any) -> list[Any]:
        self.calls.append(("beam_search", params))
        return [
            SimpleNamespace(sequences=[SimpleNamespace(tokens=p["prompt_token_ids"] + [5, 6, 1])])
            for p in prompts
        ]


class FakeParams:
    def __init__(self, **options: Any) -> None:
        self.options = options


@pytest.fixture
def fake_vllm(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    module = types.ModuleType("vllm")
    module.LLM = FakeLLM  # type: ignore[attr-defined]
    module.SamplingParams = FakeParams  # type: ignore[attr-defined]
    sampling = types.ModuleType("vllm.sampling_params")
    sampling.BeamSearchParams = FakeParams  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "vllm", module)
    monkeypatch.setitem(sys.modules, "vllm.sampling_params", sampling)
    return module


def test_vllm_glue_with_a_fake_engine(fake_vllm: types.ModuleType, t5_dir: Path) -> None:
    config = GenerationConfig(num_beams=1, max_new_tokens=9, max_input_length=3, stop=("=",))
    generator = get_generator(f"vllm:{t5_dir}", config=config, chunk_size=2, show_progress=False)
    # prompt budgets need the tokenizer before any generation: it must not start the engine
    assert generator.tokenizer("the cat")["input_ids"] and generator._llm is None
    seen: list[list[int]] = []
    outputs = generator.generate(
        ["a", "the cat sat on", "dog"], on_batch=lambda i, t: seen.append(i)
    )
    assert outputs == ["n", "n", "n"]  # cut at the stop string
    assert seen == [[0, 1], [2]]
    params = generator.llm.calls[0][1].options
    assert params["max_tokens"] == 9 and params["temperature"] == 0.0
    full = generator.generate(["the cat sat on"], config.replace(stop=()))
    assert full == ["n=3"]  # truncated on the right to max_input_length tokens
    beams = generator.generate(["the cat"], config.replace(num_beams=3))
    assert beams == ["a cat"]  # only the generated tokens, special tokens dropped
    assert generator.llm.calls[-1][1].options["beam_width"] == 3
    assert generator.score(["the cat", "dog"], ["sat", "a b"]) == [-1.0, -1.5]
    assert generator.identity["backend"] == "vllm" and "fingerprint" in generator.identity


def test_config_validation_and_round_trip() -> None:
    config = GenerationConfig.from_dict({"num_beams": 1, "stop": ["\n"], "max_new_tokens": 3})
    assert config.stop == ("\n",)
    assert GenerationConfig.from_dict(config.to_dict()) == config
    assert GenerationConfig(stop="x").stop == ("x",)
    with pytest.raises(ValueError, match="unknown generation config keys: nope"):
        GenerationConfig.from_dict({"nope": 1})
    for bad in (
        {"max_new_tokens": 0},
        {"num_beams": 0},
        {"batch_size": 0},
        {"do_sample": True, "temperature": 0},
        {"top_p": 0},
        {"stop": [""]},
    ):
        with pytest.raises(ValueError):
            GenerationConfig(**bad)
    identity = GenerationConfig(num_beams=1).decoding_identity()
    assert "batch_size" not in identity and "temperature" not in identity
    assert "length_penalty" not in identity
    assert GenerationConfig(do_sample=True).decoding_identity()["seed"] == 0


def test_helpers() -> None:
    assert apply_stop("abc\ndef###", ["###", "\n"]) == "abc"
    assert apply_stop("abc", []) == "abc"
    assert length_sorted_batches([1, 5, 3, 5, 2], 2) == [[1, 3], [2, 4], [0]]


def test_base_generator_rejects_non_strings_and_cannot_score() -> None:
    generator = EchoGenerator()
    assert generator.generate([]) == []
    with pytest.raises(TypeError):
        generator.generate([1])  # type: ignore[list-item]
    with pytest.raises(NotImplementedError, match="cannot score"):
        generator.score(["a"], ["b"])
