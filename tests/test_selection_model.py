"""The RSPG selector model: Pre/Post texts, Longformer global attention, save and load."""

from __future__ import annotations

import pytest
from conftest import build_bert_tokenizer
from generation_fixtures import single_torch_thread

torch = pytest.importorskip("torch")

from ropg.lamp import LampError  # noqa: E402
from ropg.selection import PoolRecord, RetrieverResult  # noqa: E402
from ropg.selection.model import (  # noqa: E402
    SelectorCollator,
    SelectorModel,
    SelectorSettings,
    load_selector_model,
    save_selector,
    score_records,
)

POOL = ["none", "bm25"]


def record(prompt_words: int = 3) -> PoolRecord:
    long_prompt = " ".join(["The Movie"] * prompt_words)
    return PoolRecord(
        "q1",
        "comedy",
        "LaMP-2",
        {
            "none": RetrieverResult("Description: A Film", "comedy", 1.0),
            "bm25": RetrieverResult(long_prompt, "action", 0.0, (3.0, 1.0)),
        },
    )


def test_pre_lowercases_the_prompt_and_post_adds_separator_and_output():
    tokenizer = build_bert_tokenizer()
    pre = SelectorCollator(tokenizer, SelectorSettings("pre", POOL, max_length=64))
    assert pre.texts(record()) == ["description: a film", "the movie the movie the movie"]
    post = SelectorCollator(tokenizer, SelectorSettings("post", POOL, max_length=64))
    assert post.texts(record())[0] == "description: a film [SEP] comedy"
    custom = SelectorCollator(
        tokenizer, SelectorSettings("post", POOL, max_length=64, separator="||")
    )
    assert custom.texts(record())[1].endswith("the movie || action")
    with pytest.raises(LampError, match="mode must be one of"):
        SelectorSettings("middle", POOL)
    with pytest.raises(LampError, match="2\\+ distinct retrievers"):
        SelectorSettings("pre", ["bm25", "bm25"])


def test_post_keeps_the_output_of_a_prompt_longer_than_max_length():
    tokenizer = build_bert_tokenizer()
    settings = SelectorSettings("post", POOL, max_length=16)
    batch = SelectorCollator(tokenizer, settings)([(0, record(prompt_words=20))])
    ids = batch["input_ids"][1].tolist()
    tokens = tokenizer.convert_ids_to_tokens(ids)
    assert len(ids) == 16 and tokens[-3:] == ["[SEP]", "action", "[SEP]"]
    assert tokens[1:3] == ["the", "movie"]  # the prompt's beginning is kept
    plain = SelectorSettings("post", POOL, max_length=16, keep_output=False)
    tokens = tokenizer.convert_ids_to_tokens(
        SelectorCollator(tokenizer, plain)([(0, record(prompt_words=20))])["input_ids"][1]
    )
    assert "action" not in tokens  # plain right truncation drops it (the reference)
    assert batch["feedback"].tolist() == [[1.0, 0.0]] and batch["positions"].tolist() == [0]


@pytest.fixture(scope="module")
def longformer_selector():
    from transformers import LongformerConfig, LongformerModel

    tokenizer = build_bert_tokenizer()
    config = LongformerConfig(
        vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=64, attention_window=8, max_position_embeddings=80,
        pad_token_id=tokenizer.pad_token_id,
    )  # fmt: skip
    torch.manual_seed(0)
    settings = SelectorSettings("post", POOL, max_length=48, task="LaMP-2")
    return SelectorModel(LongformerModel(config), settings), tokenizer


def spied_scores(model, tokenizer, monkeypatch, records):
    """The selector's scores of ``records`` and the global attention masks its encoder got."""
    seen = []
    forward = model.encoder.forward

    def spy(*args, **kwargs):
        seen.append(kwargs.get("global_attention_mask"))
        return forward(*args, **kwargs)

    monkeypatch.setattr(model.encoder, "forward", spy)
    with single_torch_thread():
        scores = score_records(model, records, SelectorCollator(tokenizer, model.settings))
    monkeypatch.undo()
    return scores, seen


def test_longformer_gets_global_attention_on_the_first_token(longformer_selector, monkeypatch):
    model, tokenizer = longformer_selector
    assert model.settings.global_attention == "first"  # the default
    scores, seen = spied_scores(model, tokenizer, monkeypatch, [record(), record(5)])
    assert scores.shape == (2, 2) and seen
    for mask in seen:
        assert mask[:, 0].eq(1).all() and mask[:, 1:].eq(0).all()


def test_global_attention_none_passes_no_mask_as_the_reference(longformer_selector, monkeypatch):
    from dataclasses import replace

    first, tokenizer = longformer_selector
    settings = replace(first.settings, global_attention="none")
    none = SelectorModel(first.encoder, settings)
    none.head.load_state_dict(first.head.state_dict())
    records = [record(), record(30)]  # 30 words: longer than the attention window of 8
    scores, seen = spied_scores(none, tokenizer, monkeypatch, records)
    assert seen and all(mask is None for mask in seen)
    with_global, _ = spied_scores(first, tokenizer, monkeypatch, records)
    assert not torch.allclose(torch.tensor(scores), torch.tensor(with_global), atol=1e-4)
    with pytest.raises(LampError, match="global_attention must be one of"):
        SelectorSettings("pre", POOL, global_attention="all")
    assert SelectorSettings("pre", POOL, global_attention=False).global_attention == "none"


def test_selector_config_global_attention_follows_reference_compat():
    from ropg.selection.config import SelectorConfig

    def config(**values):
        return SelectorConfig.from_dict(
            {"mode": "pre", "task": "LaMP-2", "train_feedback": ["f"], "output_dir": "o", **values}
        )

    assert config().global_attention_mode == "first"  # auto, the default
    assert config(reference_compat=True).global_attention_mode == "none"
    assert config(reference_compat=True, global_attention="first").global_attention_mode == "first"
    assert config(global_attention="none").global_attention_mode == "none"
    assert config(global_attention=True).global_attention_mode == "first"  # configs of old
    with pytest.raises(LampError, match="global_attention must be one of"):
        config(global_attention="every")


def test_saved_selector_loads_with_its_pool_and_scores_the_same(longformer_selector, tmp_path):
    model, tokenizer = longformer_selector
    collator = SelectorCollator(tokenizer, model.settings)
    records = [record(), record(7)]
    with single_torch_thread():
        before = score_records(model, records, collator)
        save_selector(model, tokenizer, tmp_path / "selector")
        loaded, loaded_tokenizer = load_selector_model(tmp_path / "selector")
        after = score_records(loaded, records, SelectorCollator(loaded_tokenizer, loaded.settings))
    assert loaded.settings.pool == POOL and loaded.settings.mode == "post"
    assert loaded.settings.task == "LaMP-2"
    assert torch.allclose(torch.tensor(before), torch.tensor(after), atol=1e-5)
    with pytest.raises(LampError, match="not an RSPG selector"):
        load_selector_model(tmp_path)


def test_pool_prompts_are_built_like_pool_feedback():
    from ropg.feedback import PromptBuilder
    from ropg.lamp import load_split
    from ropg.lamp.synthetic import sample_path
    from ropg.retrievers import get_retriever
    from ropg.selection import pool_prompts

    split = load_split(sample_path(), "LaMP-2", "dev")
    examples = [example for example in split.examples if len(example.profile) >= 2][:3]
    retrievers = {name: get_retriever(name) for name in ("none", "bm25")}
    builder = PromptBuilder(split.task, build_bert_tokenizer(), 256)
    prompts = pool_prompts(examples, retrievers, builder, k=2)
    assert [list(p) for p in prompts] == [["none", "bm25"]] * 3
    for example, by_name in zip(examples, prompts):
        assert by_name["none"] == example.input  # no retrieval: the bare input
        assert by_name["bm25"] != example.input and by_name["bm25"].endswith(example.input[-20:])
