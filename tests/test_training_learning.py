"""ROPG training end to end on CPU: a tiny random BERT learns from LLM feedback (KD and RL).

The data (LaMP-2 format, written here) makes a candidate useful exactly when it is on the
input's topic, and the text reveals the topic only through a learnable association: inputs use
one half of a topic's words, profile items the other half, so word overlap alone does not find
the useful items and the untrained encoder is no better than chance. Feedback is collected with
``collect_feedback`` from a deterministic stand-in LLM that answers with the tag of the one item
in its prompt; the initial ranking is a shuffle of the profile.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import save_tiny_bert

torch = pytest.importorskip("torch")
pytest.importorskip("accelerate")

from ropg.feedback import (  # noqa: E402
    CandidatePlanner,
    FeedbackRun,
    PromptBuilder,
    Request,
    collect_feedback,
)
from ropg.generation import BaseGenerator, CachedGenerator, GenerationConfig  # noqa: E402
from ropg.lamp import LampError, load_split  # noqa: E402
from ropg.lamp.tasks import MOVIE_TAGS  # noqa: E402
from ropg.training import RopgTrainConfig, train  # noqa: E402

TOPICS = {
    "space": "galaxy orbit rocket planet comet nebula lunar asteroid cosmos meteor eclipse star",
    "ocean": "reef whale coral tide harbor sailor lagoon shark dolphin anchor kelp islands",
    "music": "guitar melody concert drummer chorus vinyl rhythm lyrics jazz piano violin ballad",
    "cooking": "recipe kitchen baking pastry spice noodle oven garlic broth skillet dumpling saffron",
    "sports": "stadium striker league penalty coach tournament referee trophy derby pitch fans goal",
    "money": "market investor stock inflation budget banking dividend mortgage revenue bonds tax loan",
}
FILLER = (
    "the a an and with of for in on at to from by about very just also new old good long little "
    "big first last great small other same early late many some every often never always"
).split()
PROMPT = (
    "Which tag does this movie relate to among the following tags? Just answer with the tag name "
    "without further explanation. tags: [" + ", ".join(MOVIE_TAGS) + "] description: "
)
TAG = re.compile(r'is "([^"]+)" ')


def write_topic_data(root: Path, n_train: int = 160, n_dev: int = 60, seed: int = 0) -> Path:
    """LaMP-2 time layout; per question a fresh profile of 8 items, 2 of them on its topic."""
    rng = random.Random(seed)
    names = sorted(TOPICS)
    query_words = {t: TOPICS[t].split()[:6] for t in names}
    item_words = {t: TOPICS[t].split()[6:] for t in names}

    def text(words: list[str], fillers: int) -> str:
        chosen = rng.sample(words, 3) + rng.sample(FILLER, fillers)
        rng.shuffle(chosen)
        return " ".join(chosen)

    item_id = 0
    for split, count in (("train", n_train), ("dev", n_dev)):
        questions, golds = [], []
        for number in range(count):
            topic = rng.choice(names)
            topics = [topic] * 2 + [rng.choice([t for t in names if t != topic]) for _ in range(6)]
            rng.shuffle(topics)
            profile = []
            for item_topic in topics:
                item_id += 1
                profile.append(
                    {
                        "id": str(item_id),
                        "description": text(item_words[item_topic], 3),
                        "tag": MOVIE_TAGS[names.index(item_topic)],
                        "date": f"20{rng.randint(10, 20)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
                    }
                )
            qid = f"{split}-{number}"
            input_text = PROMPT + text(query_words[topic], 4)
            questions.append({"id": qid, "input": input_text, "profile": profile, "user_id": qid})
            golds.append({"id": qid, "output": MOVIE_TAGS[names.index(topic)]})
        folder = root / "time" / "LaMP_2" / split
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{split}_questions.json").write_text(json.dumps(questions), encoding="utf-8")
        outputs = {"task": "LaMP_2", "golds": golds}
        (folder / f"{split}_outputs.json").write_text(json.dumps(outputs), encoding="utf-8")
    return root


class TagReader(BaseGenerator):
    """Deterministic LLM stand-in: answers with the tag of the (single) item in the prompt."""

    backend = "tag-reader"

    def __init__(self) -> None:
        super().__init__(GenerationConfig(num_beams=1, batch_size=64), name="tag-reader")

    def model_identity(self) -> dict[str, Any]:
        return {"model": "tag-reader-1"}

    def _generate(self, prompts, config, on_batch):
        return [(TAG.findall(prompt) or ["comedy"])[0] for prompt in prompts]


@dataclass
class ShufflePlanner(CandidatePlanner):
    """The initial 'retriever' is a fixed shuffle of the profile (rank 0 is useful 1 in 4)."""

    def plan(self, examples):
        plans = []
        for example in examples:
            order = list(range(len(example.profile)))
            random.Random(example.id).shuffle(order)
            plans.append(
                [
                    Request(
                        self.build_prompt(example, [index]),
                        {
                            "rank": rank,
                            "index": index,
                            "item_id": str(example.profile[index]["id"]),
                            "retrieval_score": float(-rank),
                        },
                    )
                    for rank, index in enumerate(order[: self.candidates])
                ]
            )
        return plans


def build_tokenizer(texts: list[str]):
    """A WordPiece tokenizer whose vocabulary holds every word of the data (plus characters)."""
    from tokenizers import normalizers, pre_tokenizers
    from transformers import BertTokenizer

    normalizer = normalizers.BertNormalizer(lowercase=True)
    splitter = pre_tokenizers.BertPreTokenizer()
    words = {w for t in texts for w, _ in splitter.pre_tokenize_str(normalizer.normalize_str(t))}
    chars = list("abcdefghijklmnopqrstuvwxyz0123456789")
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab = list(dict.fromkeys(specials + sorted(words) + chars + ["##" + c for c in chars]))
    return BertTokenizer(vocab={piece: i for i, piece in enumerate(vocab)}, model_max_length=64)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models gain nothing from threads, and a shared 2-core machine loses a lot."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("ropg_train")
    data = write_topic_data(root / "data")
    splits = {name: load_split(data, "LaMP-2", name) for name in ("train", "dev")}
    texts = [e.input for s in splits.values() for e in s.examples]
    texts += [
        p["description"] + f" date: {p['date']}"
        for s in splits.values()
        for e in s.examples
        for p in e.profile
    ]
    tokenizer = build_tokenizer(texts)
    model_dir = save_tiny_bert(
        root / "tiny-bert", tokenizer, num_hidden_layers=1, intermediate_size=64
    )
    generator = CachedGenerator(TagReader(), root / "generations.sqlite")
    feedback = {}
    for name, split in splits.items():
        planner = ShufflePlanner(None, "shuffle", PromptBuilder(split.task, tokenizer, 128), 16)
        header = {"task": "LaMP-2", "split": name, "llm": generator.identity}
        out = root / f"{name}-feedback.jsonl"
        collect_feedback(
            split,
            planner,
            generator,
            out,
            header,
            FeedbackRun(chunk_size=64, show_progress=False),
        )
        feedback[name] = str(out)
    return {"root": root, "data": str(data), "model": str(model_dir), "feedback": feedback}


def make_config(setup: dict[str, Any], output: Path, **overrides: Any) -> RopgTrainConfig:
    values = {
        "method": "kd",
        "data": setup["data"],
        "task": "LaMP-2",
        "train_feedback": [setup["feedback"]["train"]],
        "dev_feedback": [setup["feedback"]["dev"]],
        "model": setup["model"],
        "max_length": 32,
        "lr": 3e-3,
        "epochs": 4,
        "effective_batch_size": 8,
        "per_device_batch_size": 8,
        "output_dir": str(output),
    }
    values.update(overrides)
    return RopgTrainConfig.from_dict(values)


LEARNING = {"kd": {"epochs": 4}, "rl": {"epochs": 6, "rl_samples": 4}}
_TRAINED: dict[str, Any] = {}


@pytest.fixture(scope="module")
def trained(setup):
    def run(method: str):
        if method not in _TRAINED:
            output = setup["root"] / f"out-{method}"
            _TRAINED[method] = train(make_config(setup, output, method=method, **LEARNING[method]))
        return _TRAINED[method]

    yield run
    _TRAINED.clear()


@pytest.mark.parametrize("method", ["kd", "rl"])
def test_training_raises_dev_top1_feedback(trained, method):
    result = trained(method)
    assert result.completed
    metrics = result.metrics
    baselines, history = metrics["dev_baselines"], metrics["epochs"]
    assert baselines["oracle_top1"] == 1.0 and baselines["initial_top1"] < 0.45
    untrained, final = history[0]["dev_top1"], history[-1]["dev_top1"]
    assert history[0]["epoch"] == 0 and untrained < 0.45  # word overlap does not help
    assert final > baselines["initial_top1"] + 0.3, history
    assert final > untrained + 0.3, history
    key = "kl" if method == "kd" else "reward"
    assert all(key in record for record in history[1:])
    output = result.output_dir
    for name in ("config.json", "ropg_retriever.json", "train_config.yaml", "metrics.json"):
        assert (output / name).is_file(), name
    assert json.loads((output / "ropg_retriever.json").read_text())["pooling"] == "mean"
    assert json.loads((output / "metrics.json").read_text())["final"]["dev_top1"] == final
    saved = RopgTrainConfig.load(output / "train_config.yaml")
    assert saved.method == method and saved.resume is None


def dense(model: str):
    """The registered ``dense`` retriever on a model directory, without the embedding cache."""
    from ropg.retrievers import get_retriever

    return get_retriever("dense", model=model, cache_dir=None, device="cpu")


def test_trained_checkpoint_ranks_through_ropg_rank_and_changes_the_ranking(
    setup, trained, tmp_path
):
    from ropg.cli.rank import main as rank_main

    result = trained("kd")
    rankings = {}
    for name, model in (("initial", setup["model"]), ("trained", result.output_dir)):
        out = tmp_path / f"{name}.json"
        argv = ["--data", str(setup["data"]), "--task", "LaMP-2", "--split", "dev"]
        argv += ["--retriever", "dense", "--retriever-option", f"model={model}"]
        argv += ["--retriever-option", "cache_dir=none", "--use-date", "--top-k", "1"]
        assert rank_main([*argv, "--out", str(out), "--no-progress"]) == 0
        rankings[name] = json.loads(out.read_text())
    split = load_split(setup["data"], "LaMP-2", "dev")
    assert set(rankings["trained"]) == {example.id for example in split.examples}
    changed = sum(rankings["trained"][q] != rankings["initial"][q] for q in rankings["initial"])
    assert changed >= len(split.examples) // 4, changed


def test_checkpoint_loads_as_dense_retriever_and_ranks_as_trained(setup, trained):
    from transformers import AutoModel, AutoTokenizer

    from ropg.retrievers import RetrievalQuery
    from ropg.retrievers.encoder import EncoderSettings
    from ropg.training.data import CandidateCollator, load_candidate_examples
    from ropg.training.evaluation import ranking_figures, score_examples

    result = trained("kd")
    split = load_split(setup["data"], "LaMP-2", "dev")
    examples = load_candidate_examples(
        split, [setup["feedback"]["dev"]], candidates=16, use_date=True
    )
    queries = [RetrievalQuery(e.id, e.query, list(e.documents)) for e in examples]
    trained_rankings = dense(str(result.output_dir)).rank_batch(queries)
    initial_rankings = dense(setup["model"]).rank_batch(queries)
    assert [r.indices[0] for r in trained_rankings] != [r.indices[0] for r in initial_rankings]
    # the retriever's scores are the training-time scores: same pooling, same dot product
    tokenizer = AutoTokenizer.from_pretrained(result.output_dir)
    model = AutoModel.from_pretrained(result.output_dir)
    scores = score_examples(
        model, examples, CandidateCollator(tokenizer, 32, 16), EncoderSettings(max_length=32)
    )
    for ranking, example_scores in zip(trained_rankings, scores):
        np.testing.assert_allclose(example_scores[ranking.indices], ranking.scores, atol=1e-4)
    by_retriever = [np.array(r.scores)[np.argsort(r.indices)] for r in trained_rankings]
    figures = ranking_figures(examples, by_retriever, 4)
    assert figures["top1"] == pytest.approx(result.metrics["final"]["dev_top1"])


def weights(path: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(str(path / "model.safetensors"))


def test_resume_after_epoch_1_ends_with_the_same_weights(setup):
    root = setup["root"]
    common = {
        "method": "rl",
        "rl_samples": 2,
        "epochs": 2,
        "limit_train": 40,
        "limit_dev": 10,
        "effective_batch_size": 16,
        "per_device_batch_size": 8,
    }
    straight = train(make_config(setup, root / "straight", **common))
    stopped = train(make_config(setup, root / "resumed", stop_after_epoch=1, **common))
    assert straight.completed and not stopped.completed
    assert not (root / "resumed" / "model.safetensors").exists()
    assert (root / "resumed" / "checkpoints" / "epoch-1" / "trainer_state.json").is_file()
    with pytest.raises(LampError, match="already holds a training run"):
        train(make_config(setup, root / "resumed", **common))
    with pytest.raises(LampError, match=r"settings differ .*\(lr\)"):
        train(make_config(setup, root / "resumed", resume="latest", **{**common, "lr": 1e-4}))
    resumed = train(make_config(setup, root / "resumed", resume="latest", **common))
    assert resumed.completed
    expected, found = weights(straight.output_dir), weights(resumed.output_dir)
    assert expected.keys() == found.keys()
    for name, tensor in expected.items():
        assert torch.allclose(tensor, found[name], atol=1e-6), name
    assert resumed.metrics["epochs"][-1]["loss"] == pytest.approx(
        straight.metrics["epochs"][-1]["loss"], abs=1e-6
    )
    assert [r["epoch"] for r in resumed.metrics["epochs"]] == [0, 1, 2]
    moved = sum(not torch.equal(t, weights(Path(setup["model"]))[n]) for n, t in found.items())
    assert moved > 0


def test_cli_trains_from_yaml_with_overrides(setup, tmp_path, capsys):
    from ropg.cli.train import main

    config = tmp_path / "ropg-kd.yaml"
    config.write_text(
        f"method: kd\ntask: LaMP-2\ndata: {setup['data']}\nmodel: {setup['model']}\n"
        f"train_feedback: [{setup['feedback']['train']}]\nmax_length: 32\nepochs: 1\n",
        encoding="utf-8",
    )
    out = tmp_path / "cli-out"
    argv = [
        "--config",
        str(config),
        "--limit-train",
        "16",
        "--effective-batch-size",
        "8",
        "--output-dir",
        str(out),
        "-q",
    ]
    assert main(argv) == 0
    assert "trained:" in capsys.readouterr().out
    assert (out / "ropg_retriever.json").is_file() and (out / "metrics.json").is_file()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["dev_baselines"] == {} and metrics["run"]["train_examples"] == 16
    assert main(argv) == 2  # the output directory is taken
    assert "pass --resume" in capsys.readouterr().err
