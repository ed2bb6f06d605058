"""RSPG training end to end on CPU: a tiny random BERT learns to choose a retriever per input.

The pool feedback (:func:`selection_fixtures.cue_pool_records`) makes the best retriever of an
input depend on a cue word in the input, while each retriever's prompt shows items with its own
signature words; retrieval scores say nothing about it. The untrained selectors (best single
retriever, QPP, random) therefore stay near the best single retriever's rate, and a trained
Pre (prompts only) and Post (prompt + output) selector must beat all of them on held-out
inputs, in success rate and in the end metric (LaMP-2 accuracy of the selected outputs).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from conftest import build_bert_tokenizer, save_tiny_bert
from generation_fixtures import EchoGenerator, single_torch_thread
from selection_fixtures import cue_pool_records, write_pool_file

torch = pytest.importorskip("torch")
pytest.importorskip("accelerate")

from ropg.generation import CachedGenerator  # noqa: E402
from ropg.lamp import LampError  # noqa: E402
from ropg.selection import (  # noqa: E402
    QPP_SELECTORS,
    SelectorConfig,
    evaluate_selection,
    load_pool_records,
    load_selector,
    select_always,
    select_best_single,
    success_rate,
    train_selector,
)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    with single_torch_thread():
        yield


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("rspg")
    train = write_pool_file(root / "pool-train.jsonl", cue_pool_records(320, seed=1))
    dev = write_pool_file(root / "pool-dev.jsonl", cue_pool_records(120, seed=2))
    tokenizer = build_bert_tokenizer()
    model_dir = save_tiny_bert(
        root / "tiny-bert", tokenizer, hidden_size=64, num_attention_heads=4,
        intermediate_size=128, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
    )  # fmt: skip
    return {"root": root, "train": str(train), "dev": str(dev), "model": str(model_dir)}


def make_config(setup: dict[str, Any], output: Path, **overrides: Any) -> SelectorConfig:
    values = {
        "mode": "pre",
        "task": "LaMP-2",
        "train_feedback": [setup["train"]],
        "dev_feedback": [setup["dev"]],
        "model": setup["model"],
        "pooling": "cls",
        "max_length": 48,
        "lr": 3e-3,
        "epochs": 16,
        "effective_batch_size": 8,
        "per_device_batch_size": 8,
        "output_dir": str(output),
    }
    values.update(overrides)
    return SelectorConfig.from_dict(values)


_TRAINED: dict[str, Any] = {}


@pytest.fixture(scope="module")
def trained(setup):
    def run(mode: str):
        if mode not in _TRAINED:
            _TRAINED[mode] = train_selector(make_config(setup, setup["root"] / mode, mode=mode))
        return _TRAINED[mode]

    yield run
    _TRAINED.clear()


@pytest.mark.parametrize("mode", ["pre", "post"])
def test_trained_selector_beats_best_single_and_every_qpp_baseline(setup, trained, mode):
    result = trained(mode)
    assert result.completed
    train_records = load_pool_records(setup["train"], task="LaMP-2")
    dev = load_pool_records(setup["dev"], task="LaMP-2")
    selector = load_selector(result.output_dir)
    assert (selector.mode, selector.pool) == (mode, ["none", "recency", "bm25", "contriever"])
    chosen = selector.select(dev)
    baselines = {
        "best single": select_always(dev, select_best_single(train_records)),
        **{name: QPP_SELECTORS[name](dev) for name in ("wig", "nqc", "sigma_max", "sigma_x")},
        "random": QPP_SELECTORS["random"](dev),
    }
    rate = success_rate(dev, chosen)
    accuracy = evaluate_selection(dev, chosen)["accuracy"]
    for name, names in baselines.items():
        assert rate > success_rate(dev, names) + 0.1, (name, rate)
        assert accuracy > evaluate_selection(dev, names)["accuracy"] + 0.1, (name, accuracy)
    # the per-epoch dev figures and the report agree with the saved selector
    history = result.metrics["epochs"]
    assert history[0]["epoch"] == 0 and history[-1]["dev_success_rate"] == pytest.approx(rate)
    assert history[-1]["dev_accuracy"] == pytest.approx(accuracy)
    assert history[0]["dev_success_rate"] < rate - 0.1  # it learned
    rows = {row["method"]: row for row in result.metrics["report"]["rows"]}
    assert rows[f"RSPG-{mode.capitalize()}"]["success_rate"] == pytest.approx(rate)
    baselines_figures = result.metrics["dev_baselines"]
    assert baselines_figures["best_single"] == "bm25"
    assert baselines_figures["oracle_success_rate"] == 1.0
    output = result.output_dir
    for name in ("config.json", "rspg_selector.json", "selector_head.safetensors",
                 "train_config.yaml", "metrics.json", "analysis.md", "winning_rates.png"):  # fmt: skip
        assert (output / name).is_file(), name
    assert SelectorConfig.load(output / "train_config.yaml").mode == mode


def test_pre_generates_the_chosen_prompt_and_post_returns_the_stored_output(setup, trained):
    dev = load_pool_records(setup["dev"], task="LaMP-2")[:12]
    pre = load_selector(trained("pre").output_dir)
    names = pre.select(dev)
    prompts = [{n: r.retrievers[n].prompt for n in r.names} for r in dev]
    echo = EchoGenerator()
    generator = CachedGenerator(echo, setup["root"] / "generations.sqlite")
    chosen, outputs = pre.answer(prompts, generator)
    assert chosen == names
    assert echo.generated == [r.retrievers[n].prompt for r, n in zip(dev, names)]
    assert outputs == [f"{echo.config.max_new_tokens}:{p.upper()}" for p in echo.generated]
    assert pre.outputs(dev, generator) == outputs and len(echo.generated) == len(dev)  # cached
    assert pre.outputs(dev) == [r.retrievers[n].output for r, n in zip(dev, names)]
    post = load_selector(trained("post").output_dir)
    post_names = post.select(dev)
    assert post.outputs(dev) == [r.retrievers[n].output for r, n in zip(dev, post_names)]
    assert post.choose(prompts, [{n: r.retrievers[n].output for n in r.names} for r in dev]) == (
        post_names
    )
    with pytest.raises(LampError, match="Post selector needs the LLM outputs"):
        post.choose(prompts)


def head_weights(path: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    found = load_file(str(path / "selector_head.safetensors"))
    found.update(load_file(str(path / "model.safetensors")))
    return found


def test_resume_after_epoch_1_ends_with_the_same_weights(setup):
    root = setup["root"]
    common = {"mode": "post", "epochs": 2, "limit_train": 32, "limit_dev": 16, "report": False}
    straight = train_selector(make_config(setup, root / "straight", **common))
    stopped = train_selector(make_config(setup, root / "resumed", stop_after_epoch=1, **common))
    assert straight.completed and not stopped.completed
    assert not (root / "resumed" / "rspg_selector.json").exists()
    with pytest.raises(LampError, match="already holds a training run"):
        train_selector(make_config(setup, root / "resumed", **common))
    with pytest.raises(LampError, match=r"settings differ .*\(temperature\)"):
        train_selector(make_config(setup, root / "resumed", resume="latest", temperature=2.0,
                                   **common))  # fmt: skip
    resumed = train_selector(make_config(setup, root / "resumed", resume="latest", **common))
    assert resumed.completed and [r["epoch"] for r in resumed.metrics["epochs"]] == [0, 1, 2]
    expected, found = head_weights(straight.output_dir), head_weights(resumed.output_dir)
    assert expected.keys() == found.keys()
    for name, tensor in expected.items():
        assert torch.allclose(tensor, found[name], atol=1e-6), name


def test_cli_trains_from_yaml_and_reports(setup, tmp_path, capsys):
    from ropg.cli.rspg_train import main

    config = tmp_path / "rspg.yaml"
    config.write_text(
        f"task: LaMP-2\nmodel: {setup['model']}\ntrain_feedback: [{setup['train']}]\n"
        f"dev_feedback: [{setup['dev']}]\nmax_length: 48\nepochs: 1\npooling: cls\n",
        encoding="utf-8",
    )
    out = tmp_path / "cli-out"
    argv = ["--mode", "pre", "--config", config, "--limit-train", 16, "--limit-dev", 8,
            "--retrievers", "bm25,none", "--effective-batch-size", 8, "--output-dir", out, "-q"]  # fmt: skip
    assert main([str(a) for a in argv]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("trained:") and "| RSPG-Pre |" in printed
    assert json.loads((out / "rspg_selector.json").read_text())["pool"] == ["bm25", "none"]
    assert (out / "winning_rates.png").is_file()
    assert main([str(a) for a in argv]) == 2  # the output directory is taken
    assert "pass --resume" in capsys.readouterr().err
    analyze = ["--analyze", "--task", "LaMP-2", "--train-feedback", setup["train"],  # abbreviated
               "--dev-feedback", setup["dev"], "--output-dir", tmp_path / "baselines", "-q"]  # fmt: skip
    assert main([str(a) for a in analyze]) == 0
    printed = capsys.readouterr().out
    assert "| QPP wig |" in printed and "| oracle upper bound | 1.000 |" in printed
    assert (tmp_path / "baselines" / "winning_rates.png").is_file()


def test_cli_bad_feedback_exits_2_with_one_line(setup, tmp_path, capsys):
    from ropg.cli.rspg_train import main

    records = cue_pool_records(4, seed=5)
    del records[2]["retrievers"]["recency"]
    bad = write_pool_file(tmp_path / "bad.jsonl", records)
    argv = ["--mode", "post", "--task", "LaMP-2", "--model", setup["model"],
            "--train-feedback", bad, "--output-dir", tmp_path / "out"]  # fmt: skip
    assert main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert str(bad) in err and "record 3" in err and "field 'retrievers'" in err
    assert main(["--task", "LaMP-2"]) == 2
    assert "mode must be one of" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, "first"),
        ({"reference_compat": True}, "none"),
        ({"reference_compat": True, "global_attention": "first"}, "first"),
    ],
)
def test_trainer_builds_the_selector_with_the_resolved_global_attention(
    setup, tmp_path, overrides, expected
):
    from ropg.selection.trainer import SelectorTrainer

    trainer = SelectorTrainer(make_config(setup, tmp_path / "out", **overrides))
    model, _, collator = trainer.build()
    assert model.settings.global_attention == collator.settings.global_attention == expected
