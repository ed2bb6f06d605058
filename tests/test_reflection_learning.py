"""RPO learns: a tiny causal LM trained by SFT on stand-in trajectories beats the generic
answer g on held-out users, RL from the SFT checkpoint raises the held-out reward further, and
random retrieval instead of BM25 shrinks the gain.

The data (written here) hides each user's preference in their profile only: a user favours
one tag per topic, their profile items carry it, and the black-box base model answers with the
topic's popular tag, blind to the user (it is right about 1 time in 8). BM25 on
``input ⊕ g`` finds the items on the input's topic; a random ranking finds them a third of the
time. SFT is deliberately short (3 epochs on 120 trajectories, the items the teacher saw: the
top 2), RL runs 2 epochs with the curriculum K = 2 -> 4 items, and every model is evaluated on
80 held-out users with the top 4 items: greedy answers (accuracy) and the held-out RL reward
(task score + format, the mean over 4 sampled reflections per input: the RL objective).
Runs in about a minute and a half on 2 busy cores.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from generation_fixtures import single_torch_thread
from reflection_fixtures import COMPACT_TEMPLATE, save_tiny_lm, write_tag_data

pytest.importorskip("trl")

from ropg.lamp import load_split  # noqa: E402
from ropg.reflection import (  # noqa: E402
    LLMSettings,
    ReflectionFormat,
    Reflector,
    RpoRlSettings,
    RpoSftSettings,
    StandInTeacher,
    build_trajectories,
    generate_generic,
    load_rankings,
    make_llm,
    read_generic,
    read_trajectories,
    reflect_split,
    retrieve_contexts,
    retriever_source,
    train_rl,
    train_sft,
)

BASE = "reflection_fixtures:GenericTagger"
K_EVAL = 4
SAMPLES = 4  # sampled reflections per held-out input for the expected reward
FORMAT_WEIGHT = 0.1
FORMAT = ReflectionFormat(template=COMPACT_TEMPLATE)


def held_out_reward(path: Path, split) -> float:
    """The RL reward of the held-out reflections: task score (0 when malformed) + format."""
    records = [json.loads(line) for line in path.read_text().splitlines()[1:]]
    gold = {e.id: e.gold for e in split}
    total = 0.0
    for record in records:
        well_formed = record["fallback"] is None
        if well_formed:
            total += split.task.example_score(gold[record["id"]], record["answer"])
        total += FORMAT_WEIGHT * (well_formed and bool(record["reasoning"]))
    return total / len(records)


@pytest.fixture(scope="module")
def learned(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("rpo-learning")
    data = write_tag_data(root / "data", {"train": (60, 2), "dev": (80, 1)}, seed=2)
    train, dev = (load_split(data, "LaMP-2", split) for split in ("train", "dev"))
    cache = root / "cache.sqlite"
    base = make_llm(LLMSettings(BASE, cache=cache))
    generics, rankings = {}, {}
    for split in (train, dev):
        path = root / split.split / "generic.jsonl"
        generate_generic(split, base, path)
        generics[split.split] = read_generic(path)
        for name in ("bm25", "random"):
            out = root / split.split / f"{name}.json"
            retrieve_contexts(split, generics[split.split], retriever_source(name), 6, out)
            rankings[split.split, name] = load_rankings(out)
    path = root / "train" / "trajectories.jsonl"
    trajectories = build_trajectories(
        train, generics["train"], rankings["train", "bm25"], StandInTeacher(), path,
        items=2, fmt=FORMAT,
    )  # fmt: skip
    records = read_trajectories(path)
    texts = [r["completion"] for r in records]
    for split in (train, dev):
        ranked = rankings[split.split, "bm25"]
        texts += [FORMAT.prompt(split.task, e.input, generics[split.split][e.id],
                                [e.profile[i] for i in ranked[e.id]]) for e in split]  # fmt: skip
    model = save_tiny_lm(root / "tiny", texts)
    run = root / "run"
    common = {"output_dir": str(run), "lora": "false", "prompt_template": COMPACT_TEMPLATE}
    sft = RpoSftSettings.load(None, {**common, "model": str(model), "lr": 5e-3, "epochs": 3,
        "per_device_batch_size": 8, "effective_batch_size": 8, "lr_scheduler": "constant",
        "save_steps": 1000, "logging_steps": 1000})  # fmt: skip
    rl = RpoRlSettings.load(None, {**common, "task": "LaMP-2", "data": str(data), "lr": 1e-3,
        "epochs": 2, "curriculum": ["2", "3", "4"], "num_generations": 8, "prompts_per_step": 4,
        "per_device_batch_size": 32, "max_completion_length": 24, "beta": 0.05,
        "format_reward_weight": FORMAT_WEIGHT, "save_steps": 1000, "logging_steps": 10})  # fmt: skip
    results = {"trajectories": trajectories}
    with single_torch_thread():
        results["sft"] = train_sft(sft, records)
        results["rl"] = train_rl(rl, train, generics["train"], rankings["train", "bm25"])
        runs = [(stage, "bm25", None) for stage in ("sft", "rl")] + [("rl", "random", None)]
        runs += [(stage, "bm25", seed) for stage in ("sft", "rl") for seed in range(SAMPLES)]
        for stage, ranking, seed in runs:
            decoding = {"max_new_tokens": 24, "num_beams": 1, "batch_size": 40}
            if seed is not None:  # the policy's own samples: the RL objective on held-out users
                decoding |= {"do_sample": True, "temperature": 1.0, "seed": seed}
            llm = make_llm(LLMSettings(f"hf:{run / stage / 'model'}", generation=decoding,
                                       options={"show_progress": False}, cache=cache))  # fmt: skip
            name = f"{stage}-{ranking}" + ("" if seed is None else f"-sample{seed}")
            out = root / "eval" / f"{name}.jsonl"
            facts = reflect_split(dev, generics["dev"], rankings["dev", ranking],
                                  Reflector(llm, FORMAT), out, k=K_EVAL)  # fmt: skip
            facts["reward"] = held_out_reward(out, dev)
            results[name] = facts
    for stage in ("sft", "rl"):
        rewards = [results[f"{stage}-bm25-sample{seed}"]["reward"] for seed in range(SAMPLES)]
        results[f"{stage}-reward"] = sum(rewards) / SAMPLES
    results["g"] = results["sft-bm25"]["generic_metrics"]["accuracy"]
    return results


def accuracy(results: dict, name: str) -> float:
    return results[name]["metrics"]["accuracy"]


def test_sft_beats_g_and_rl_raises_the_held_out_reward_further(learned) -> None:
    assert learned["trajectories"]["kept"] == 120  # the stand-in's rewrites pass the filter
    assert learned["sft"]["completed"] and learned["rl"]["completed"]
    assert learned["rl"]["curriculum"][0] == 2 and learned["rl"]["curriculum"][-1] == 4
    g, sft, rl = learned["g"], accuracy(learned, "sft-bm25"), accuracy(learned, "rl-bm25")
    assert sft >= g + 0.2, (g, sft)  # SFT alone personalizes
    sft_reward, rl_reward = learned["sft-reward"], learned["rl-reward"]
    assert rl_reward >= sft_reward + 0.05, (sft_reward, rl_reward)  # the RL objective, held out
    assert rl >= sft - 0.02, (sft, rl)  # and greedy answers lose nothing


def test_random_retrieval_instead_of_bm25_shrinks_the_gain(learned) -> None:
    g = learned["g"]
    gain_bm25 = accuracy(learned, "rl-bm25") - g
    gain_random = accuracy(learned, "rl-random") - g
    assert gain_random <= gain_bm25 - 0.15, (gain_bm25, gain_random)
