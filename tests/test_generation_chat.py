"""Chat templates in the hf backend: instruct models are prompted through their template."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from generation_fixtures import single_torch_thread, tiny_model_dir

from ropg.generation import CachedGenerator, GenerationCache, GenerationConfig, get_generator
from ropg.generation.chat import parse_chat_mode
from ropg.generation.errors import GenerationError

TEMPLATE = (
    "{% for message in messages %}{{ message['role'] }} {{ message['content'] }} {% endfor %}"
    "{% if add_generation_prompt %}write {% endif %}"
)
CONFIG = GenerationConfig(max_new_tokens=3, num_beams=1, batch_size=4, max_input_length=64)


@pytest.fixture(scope="module")
def instruct_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Llama with a chat template in its tokenizer (an 'instruct' model)."""
    from transformers import AutoTokenizer

    source = tiny_model_dir(tmp_path_factory, "llama")
    directory = tmp_path_factory.mktemp("tiny-instruct")
    shutil.copytree(source, directory, dirs_exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(directory)
    tokenizer.chat_template = TEMPLATE
    tokenizer.save_pretrained(directory)
    return directory


def _spy_inputs(generator) -> list[list[int]]:
    """Record the input ids the model is given (without padding)."""
    seen: list[list[int]] = []
    original = generator.model.generate

    def generate(input_ids, attention_mask, **kwargs):
        for ids, mask in zip(input_ids.tolist(), attention_mask.tolist(), strict=True):
            seen.append([token for token, keep in zip(ids, mask, strict=True) if keep])
        return original(input_ids=input_ids, attention_mask=attention_mask, **kwargs)

    generator.model.generate = generate
    return seen


def test_instruct_model_is_prompted_through_its_template(instruct_dir: Path) -> None:
    generator = get_generator(f"hf:{instruct_dir}", config=CONFIG, show_progress=False)
    assert generator.render("the cat sat") == "user the cat sat write "
    seen = _spy_inputs(generator)
    with single_torch_thread():
        generator.generate(["the cat sat"])
    expected = generator.tokenizer("user the cat sat write ", add_special_tokens=False)
    assert seen == [list(expected["input_ids"])]
    assert generator.identity["chat"]["system_prompt"] is None


def test_chat_false_gives_the_raw_prompt(instruct_dir: Path) -> None:
    generator = get_generator(f"hf:{instruct_dir}", config=CONFIG, chat=False, show_progress=False)
    assert generator.render("the cat sat") == "the cat sat"
    seen = _spy_inputs(generator)
    with single_torch_thread():
        generator.generate(["the cat sat"])
    assert seen == [list(generator.tokenizer("the cat sat")["input_ids"])]  # <s> + words
    assert "chat" not in generator.identity


def test_system_prompt_is_sent_first_and_is_part_of_the_identity(instruct_dir: Path) -> None:
    plain = get_generator(f"hf:{instruct_dir}", config=CONFIG, show_progress=False)
    styled = get_generator(
        f"hf:{instruct_dir}", config=CONFIG, system_prompt="write short", show_progress=False
    )
    assert styled.render("the dog") == "system write short user the dog write "
    assert styled.identity != plain.identity


def test_the_cache_keeps_templated_and_raw_outputs_apart(instruct_dir: Path, tmp_path) -> None:
    cache = GenerationCache(tmp_path / "cache.sqlite")
    chat = CachedGenerator(get_generator(f"hf:{instruct_dir}", config=CONFIG), cache)
    raw = CachedGenerator(get_generator(f"hf:{instruct_dir}", config=CONFIG, chat="false"), cache)
    prompts = ["the cat sat", "a red dog"]
    with single_torch_thread():
        chat.generate(prompts)
        raw.generate(prompts)
    assert (chat.misses, raw.misses, raw.hits) == (2, 2, 0)
    with single_torch_thread():
        raw.generate(prompts)
    assert raw.hits == 2


def test_long_prompts_are_cut_inside_the_user_message(instruct_dir: Path) -> None:
    config = CONFIG.replace(max_input_length=8)
    generator = get_generator(f"hf:{instruct_dir}", config=config, show_progress=False)
    prompt = "the cat sat on the mat and the dog sat on the cat"
    (ids,) = generator.encode_prompts([prompt], 8)
    text = generator.tokenizer.decode(ids)
    assert len(ids) <= 8
    assert text.startswith("user the cat") and text.endswith("write")


def test_chat_true_without_a_template_is_an_error(tmp_path_factory) -> None:
    plain = tiny_model_dir(tmp_path_factory, "llama")
    with pytest.raises(GenerationError, match="no chat template"):
        get_generator(f"hf:{plain}", config=CONFIG, chat=True, show_progress=False)
    auto = get_generator(f"hf:{plain}", config=CONFIG, show_progress=False)
    assert auto.render("the cat") == "the cat"  # auto: no template, raw prompts


@pytest.mark.parametrize(
    ("value", "mode"), [(True, "true"), ("no", "false"), ("AUTO", "auto"), (False, "false")]
)
def test_chat_mode_values(value, mode) -> None:
    assert parse_chat_mode(value) == mode


def test_unknown_chat_mode_is_refused() -> None:
    with pytest.raises(GenerationError, match="auto, true or false"):
        parse_chat_mode("sometimes")
