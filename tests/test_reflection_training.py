"""RPO's SFT and RL stages on a tiny chat causal LM: resumption gives the weights of an
uninterrupted run, the RL prompts follow the curriculum, and the KL is anchored on the SFT
policy (also under LoRA)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from generation_fixtures import single_torch_thread
from reflection_fixtures import COMPACT_TEMPLATE, save_tiny_lm, write_tag_data

torch = pytest.importorskip("torch")
pytest.importorskip("trl")
pytest.importorskip("peft")

from ropg.errors import UserError  # noqa: E402
from ropg.lamp import load_split  # noqa: E402
from ropg.reflection import (  # noqa: E402
    ReflectionFormat,
    RpoRlSettings,
    RpoSftSettings,
    StandInTeacher,
    build_trajectories,
    k_per_step,
    read_trajectories,
    train_rl,
    train_sft,
)

FORMAT = ReflectionFormat(template=COMPACT_TEMPLATE)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A train split (16 inputs), its g, rankings and stand-in trajectories, a tiny model."""
    root = tmp_path_factory.mktemp("rpo-train")
    data = write_tag_data(root / "data", {"train": (8, 2)}, seed=3)
    split = load_split(data, "LaMP-2", "train")
    generics = {e.id: "comedy" for e in split}
    rankings = {e.id: list(range(len(e.profile))) for e in split}
    path = root / "trajectories.jsonl"
    build_trajectories(split, generics, rankings, StandInTeacher(), path, fmt=FORMAT)
    records = read_trajectories(path)
    texts = [r["completion"] for r in records]
    texts += [FORMAT.prompt(split.task, e.input, "comedy", e.profile[:6]) for e in split]
    model = save_tiny_lm(root / "tiny", texts, hidden=32)
    return {"root": root, "data": data, "split": split, "generics": generics,
            "rankings": rankings, "records": records, "model": model}  # fmt: skip


def sft_settings(setup: dict, out: Path, **changes) -> RpoSftSettings:
    values = dict(output_dir=str(out), model=str(setup["model"]), lora="false", lr=5e-3,
                  epochs=4, per_device_batch_size=2, effective_batch_size=2, save_steps=4,
                  logging_steps=1, prompt_template=COMPACT_TEMPLATE)  # fmt: skip
    return RpoSftSettings.load(None, {**values, **changes})


def rl_settings(setup: dict, out: Path, **changes) -> RpoRlSettings:
    values = dict(task="LaMP-2", data=str(setup["data"]), output_dir=str(out), lora="false",
                  lr=1e-3, num_generations=2, prompts_per_step=2, per_device_batch_size=4,
                  max_completion_length=24, temperature=0.5, save_steps=2, logging_steps=1,
                  curriculum=["2", "3", "4"], prompt_template=COMPACT_TEMPLATE)  # fmt: skip
    return RpoRlSettings.load(None, {**values, **changes})


def weights(directory: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(next(directory.glob("*.safetensors"))))


def assert_same_weights(a: Path, b: Path) -> None:
    left, right = weights(a), weights(b)
    assert left.keys() == right.keys()
    for name in left:
        torch.testing.assert_close(left[name], right[name], rtol=1e-5, atol=1e-6)


def train_rl_from(setup: dict, settings: RpoRlSettings) -> dict:
    return train_rl(settings, setup["split"], setup["generics"], setup["rankings"])


@pytest.fixture(scope="module")
def sft_run(setup: dict) -> Path:
    """An uninterrupted SFT run (its stage directory is the RL tests' start)."""
    out = setup["root"] / "sft-full"
    with single_torch_thread():
        facts = train_sft(sft_settings(setup, out), setup["records"])
    assert facts["completed"] and facts["steps"] == 4 * len(setup["records"]) // 2
    return out


def test_a_killed_sft_run_resumed_ends_with_the_same_weights(setup, sft_run) -> None:
    out = setup["root"] / "sft-killed"
    with single_torch_thread():
        stopped = train_sft(sft_settings(setup, out, stop_after_steps=13), setup["records"])
        assert not stopped["completed"] and not (out / "sft" / "model").exists()
        with pytest.raises(UserError, match="--resume"):
            train_sft(sft_settings(setup, out), setup["records"])
        resumed = train_sft(sft_settings(setup, out, resume="latest"), setup["records"])
    assert stopped["steps"] == 13 and resumed["steps"] == 4 * len(setup["records"]) // 2
    assert_same_weights(sft_run / "sft" / "model", out / "sft" / "model")
    start = weights(setup["model"])
    trained = weights(sft_run / "sft" / "model")
    assert any(not torch.equal(start[n], trained[n]) for n in start)  # it did train


def test_rl_resumes_to_the_same_weights_and_its_prompts_follow_the_curriculum(setup, sft_run):
    full, killed = setup["root"] / "rl-full", setup["root"] / "rl-killed"
    for run in (full, killed):  # both start from the same SFT stage
        run.mkdir()
        (run / "sft").symlink_to(sft_run / "sft", target_is_directory=True)
    with single_torch_thread():
        facts = train_rl_from(setup, rl_settings(setup, full))
        stopped = train_rl_from(setup, rl_settings(setup, killed, stop_after_steps=3))
        resumed = train_rl_from(setup, rl_settings(setup, killed, resume="latest"))
    steps = len(setup["split"]) // 2
    assert facts["completed"] and facts["steps"] == steps and not stopped["completed"]
    assert resumed["completed"] and resumed["steps"] == steps
    assert_same_weights(full / "rl" / "model", killed / "rl" / "model")
    schedule = k_per_step([2, 3, 4], steps)
    assert facts["curriculum"] == schedule == [2, 2, 2, 3, 3, 3, 4, 4]
    logged = [json.loads(line) for line in (full / "rl" / "steps.jsonl").read_text().splitlines()]
    assert [r["step"] for r in logged] == list(range(steps))
    assert [r["items"] for r in logged] == [[k] for k in schedule]  # counted in the prompts
    history = json.loads((full / "rl" / "metrics.json").read_text())["log_history"]
    first = next(h for h in history if "kl" in h)
    assert first["step"] == 1 and abs(first["kl"]) < 1e-4  # the reference is the SFT policy
    assert any(h.get("kl", 0) > 1e-4 for h in history)
    assert {"rewards/task/mean", "rewards/format/mean"} <= set(first)


def test_lora_sft_writes_an_adapter_and_rl_keeps_it_anchored_on_it(setup) -> None:
    out = setup["root"] / "lora"
    lora = {"lora": "true", "lora_r": 4, "lora_alpha": 8, "lora_dropout": 0.0}
    with single_torch_thread():
        sft = train_sft(sft_settings(setup, out, epochs=1, **lora), setup["records"][:8])
        rl = train_rl_from(setup, rl_settings(setup, out, stop_after_steps=2, **lora))
    assert sft["lora"] and (out / "sft" / "adapter" / "adapter_config.json").is_file()
    assert (out / "sft" / "model" / "config.json").is_file()  # merged, for hf: generation
    assert rl["lora"] and not rl["completed"]
    history = json.loads((out / "rl" / "metrics.json").read_text())["log_history"]
    first = next(h for h in history if "kl" in h)
    assert abs(first["kl"]) < 1e-4  # a frozen copy of the SFT adapter, not the base model
    merged, base = weights(out / "sft" / "model"), weights(setup["model"])
    assert any(not torch.equal(merged[n], base[n]) for n in base)


def test_the_offline_commands_chain_every_stage_on_the_sample(tmp_path, capsys) -> None:
    from ropg.cli.reflect import main as reflect_main
    from ropg.cli.rpo_train import main as rpo_train_main

    run, cache = tmp_path / "run", str(tmp_path / "cache.sqlite")
    data = ["--task", "LaMP-2", "--data", "sample", "--limit", "8", "--output-dir", str(run)]
    base = ["--base-model", "reader:profile", "--retriever", "bm25", "--cache", cache]
    with single_torch_thread():
        assert (
            rpo_train_main(["--stage", "trajectories", *data, *base, "--teacher", "stand-in"]) == 0
        )
        sft = ["--stage", "sft", "--output-dir", str(run), "--model", "tiny-chat", "--lora",
               "false", "--lr", "5e-3", "--per-device-batch-size", "4", "--effective-batch-size", "4"]  # fmt: skip
        assert rpo_train_main([*sft, "-q"]) == 0
        rl = ["--stage", "rl", *data, "--lora", "false", "--num-generations", "2",
              "--prompts-per-step", "4", "--per-device-batch-size", "8",
              "--max-completion-length", "16", "--curriculum", "2", "4"]  # fmt: skip
        assert rpo_train_main([*rl, "-q"]) == 0
        reflect = ["--split", "dev", *data, *base, "--top-k", "2",
                   "--reflection-model", f"hf:{run / 'rl' / 'model'}"]  # fmt: skip
        assert reflect_main([*reflect, "-q"]) == 0
    assert "/8 reflections used" in capsys.readouterr().out
    assert (run / "models" / "tiny-chat" / "config.json").is_file()
    assert json.loads((run / "rl" / "metrics.json").read_text())["curriculum"] == [2, 4]
    predictions = json.loads((run / "reflect/dev/reflections.predictions.json").read_text())
    assert len(predictions["golds"]) == 8
