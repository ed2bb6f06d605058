"""ROPG training inputs: feedback files checked against the data, config loading, CLI errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ropg.cli.train import main as train_main
from ropg.feedback.jsonl import HEADER_KEY, dumps_record
from ropg.lamp import LampDataError, LampError, get_task, load_split
from ropg.lamp.synthetic import sample_path
from ropg.training.config import RopgTrainConfig
from ropg.training.data import CandidateCollator, load_candidate_examples, reference_pad_feedback


def feedback_records(split, candidates: int) -> list[dict]:
    """Candidates = the first profile items in profile order; score = the item's own label."""
    task = split.task
    field = {"LaMP-2": "tag", "LaMP-3": "score"}[task.name]
    records = []
    for example in split.examples:
        entries = []
        for rank, item in enumerate(example.profile[:candidates]):
            output = str(item[field])
            entries.append(
                {
                    "rank": rank,
                    "index": rank,
                    "item_id": str(item["id"]),
                    "retrieval_score": -rank,
                    "output": output,
                    "score": task.example_score(example.gold, output),
                }
            )
        records.append({"id": example.id, "gold": example.gold, "candidates": entries})
    return records


def write_feedback(path: Path, records, task="LaMP-2", candidates=4, kind="candidates", **extra):
    header = {"kind": kind, "task": task, "split": "train", "candidates": candidates, **extra}
    lines = [dumps_record({HEADER_KEY: header})] + [dumps_record(r) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def split():
    return load_split(sample_path(), "LaMP-2", "train")


@pytest.fixture
def good(split, tmp_path) -> Path:
    return write_feedback(tmp_path / "fb.jsonl", feedback_records(split, 4))


def load(split, paths, **options):
    options = {"candidates": 4, "use_date": True, **options}
    return load_candidate_examples(split, [str(p) for p in paths], **options)


def test_examples_join_feedback_and_profile(split, good):
    examples = load(split, [good], min_candidates=2)
    assert len(examples) == sum(len(e.profile) >= 2 for e in split.examples)
    task = get_task("LaMP-2")
    by_id = {e.id: e for e in split.examples}
    for example in examples:
        source = by_id[example.id]
        assert example.query == task.query(source.input)
        assert list(example.documents) == task.documents(source.profile[: example.real], True)
        assert example.documents[0].endswith(f" date: {source.profile[0]['date']}")
        gold = [float(item["tag"] == source.gold) for item in source.profile[:4]]
        assert list(example.feedback) == gold
        assert split.ids[example.position] == example.id
    fewer = load(split, [good], candidates=2)
    assert max(len(e.documents) for e in fewer) == 2


def test_several_files_are_merged(split, tmp_path):
    records = feedback_records(split, 4)
    first = write_feedback(tmp_path / "a.jsonl", records[:30])
    second = write_feedback(tmp_path / "b.jsonl", records[30:])
    assert load(split, [first, second]) == load(split, [write_feedback(tmp_path / "c", records)])
    duplicate = write_feedback(tmp_path / "d.jsonl", records[29:])
    with pytest.raises(LampDataError, match="duplicate example"):
        load(split, [first, duplicate])
    likelihood = write_feedback(tmp_path / "e.jsonl", records[30:], signal="likelihood")
    with pytest.raises(LampDataError, match="signal 'likelihood'.* cannot be mixed"):
        load(split, [first, likelihood])


def break_record(records, problem: str):
    target = next(r for r in records if len(r["candidates"]) == 4)
    if problem == "index":
        target["candidates"][2]["index"] = 999
    elif problem == "item_id":
        target["candidates"][1]["item_id"] = "not-this-one"
    elif problem == "count":
        target["candidates"].pop()
    elif problem == "score":
        target["candidates"][0]["score"] = "high"
    return target["id"]


@pytest.mark.parametrize(
    ("problem", "message"),
    [
        ("index", "candidate index 999 is out of range for a profile of"),
        ("item_id", "feedback made for other data"),
        ("count", "has 3 candidates, expected 4"),
        ("score", r"candidates\[0\]\.score'?: expected a number"),
    ],
)
def test_record_problems_name_file_record_and_field(split, tmp_path, problem, message):
    records = feedback_records(split, 4)
    record_id = break_record(records, problem)
    path = write_feedback(tmp_path / "bad.jsonl", records)
    with pytest.raises(LampDataError, match=message) as error:
        load(split, [path])
    assert str(path) in str(error.value) and repr(record_id) in str(error.value)
    assert "candidates" in str(error.value)


def test_header_problems(split, tmp_path):
    records = feedback_records(split, 4)
    with pytest.raises(LampDataError, match="is feedback for LaMP-3, but the task is LaMP-2"):
        load(split, [write_feedback(tmp_path / "t.jsonl", records, task="LaMP_3")])
    with pytest.raises(LampDataError, match="has 4 candidates per example but 16 were asked"):
        load(split, [write_feedback(tmp_path / "c.jsonl", records)], candidates=16)
    with pytest.raises(LampDataError, match="needs 'candidates' feedback"):
        load(split, [write_feedback(tmp_path / "p.jsonl", records, kind="pool")])
    with pytest.raises(LampDataError, match=r"3 of 68 LaMP-2 train examples have no feedback"):
        load(split, [write_feedback(tmp_path / "m.jsonl", records[3:])])
    with pytest.raises(LampDataError, match="record 2: a record must be an object with an 'id'"):
        load(split, [write_feedback(tmp_path / "i.jsonl", records[:1] + [["not", "a", "record"]])])
    with pytest.raises(LampDataError, match="file not found"):
        load(split, [tmp_path / "missing.jsonl"])


def test_reference_compat_pads_short_profiles(tmp_path):
    lamp3 = load_split(sample_path(), "LaMP-3", "train")
    path = write_feedback(tmp_path / "l3.jsonl", feedback_records(lamp3, 4), task="LaMP-3")
    masked = load(lamp3, [path])
    padded = load(lamp3, [path], reference_compat=True)
    assert len(padded) == len(lamp3) > len(masked)  # even empty profiles stay, all padding
    assert reference_pad_feedback(get_task("LaMP-3"), "2") == 3.0  # raw max(|y-1|, |y-5|)
    assert reference_pad_feedback(get_task("LaMP-2"), "comedy") == 0.0
    short = next(e for e in padded if 0 < e.real < 4)
    assert len(short.documents) == 4 and short.documents[short.real :] == ("",) * (4 - short.real)
    gold = float(lamp3[short.id].gold)
    worst = max(abs(gold - 1), abs(gold - 5))
    assert short.feedback[short.real :] == (worst,) * (4 - short.real)
    assert short.indices[short.real :] == (-1,) * (4 - short.real)


def test_collator_masks_missing_slots(split, good, bert_tokenizer):
    examples = load(split, [good])
    batch = CandidateCollator(bert_tokenizer, 32, 4)(examples[:3])
    counts = [len(e.documents) for e in examples[:3]]
    assert batch["mask"].sum(dim=1).tolist() == counts
    assert batch["doc_input_ids"].shape[0] == sum(counts)
    assert batch["query_input_ids"].shape[0] == 3 and batch["doc_input_ids"].shape[1] <= 32
    assert batch["feedback"][~batch["mask"]].abs().sum() == 0


# -- config -------------------------------------------------------------------------------------
def test_config_yaml_then_overrides(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text(
        "method: kd\ntask: LaMP-3\nlr: 1e-5\ntrain_feedback: a.jsonl\n"
        "output_dir: out\nuse_date: false\n"
    )
    config = RopgTrainConfig.load(path, {"lr": "3e-4", "epochs": "2", "method": "rl"})
    assert (config.method, config.lr, config.epochs, config.use_date) == ("rl", 3e-4, 2, False)
    assert config.train_feedback == ["a.jsonl"] and config.candidates == 16
    assert (config.model, config.pooling, config.normalize) == (
        "facebook/contriever",
        "mean",
        False,
    )
    saved = tmp_path / "saved.yaml"
    config.save(saved)
    assert RopgTrainConfig.load(saved) == config
    with pytest.raises(LampError, match="did you mean 'epochs'"):
        RopgTrainConfig.load(path, {"epoch": 3})
    with pytest.raises(LampError, match="lr: expected a number"):
        RopgTrainConfig.load(path, {"lr": "fast"})
    with pytest.raises(LampError, match="method must be one of"):
        RopgTrainConfig.load(path, {"method": "sft"})
    with pytest.raises(LampError, match="leave_one_out needs rl_samples >= 2"):
        RopgTrainConfig.load(path, {"rl_baseline": "leave_one_out"})


def run_cli(argv, capsys):
    code = train_main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_bad_feedback_exits_2_with_one_line(split, tmp_path, capsys):
    records = feedback_records(split, 4)
    break_record(records, "index")
    bad = write_feedback(tmp_path / "bad.jsonl", records)
    argv = [
        "--method",
        "kd",
        "--task",
        "LaMP-2",
        "--data",
        sample_path(),
        "--candidates",
        4,
        "--train-feedback",
        bad,
        "--output-dir",
        tmp_path / "out",
        "--model",
        tmp_path,
    ]
    code, out, err = run_cli(argv, capsys)
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and "out of range" in err
    other = write_feedback(tmp_path / "other.jsonl", feedback_records(split, 4), task="LaMP-7")
    code, _, err = run_cli(argv[:-5] + [other] + argv[-4:], capsys)
    assert code == 2 and "is feedback for LaMP-7" in err and err.count("\n") == 1
    code, _, err = run_cli(["--method", "kd", "--task", "LaMP-2"], capsys)
    assert code == 2 and "train_feedback is required" in err


def test_cli_print_config_and_yaml(tmp_path, capsys):
    config = tmp_path / "cfg.yaml"
    config.write_text(json.dumps({"task": "LaMP-2", "train_feedback": ["x.jsonl"]}))
    code, out, _ = run_cli(
        [
            "--config",
            config,
            "--method",
            "rl",
            "--rl-samples",
            "4",
            "--output_dir",
            "o",
            "--use-date",
            "--print-config",
        ],
        capsys,
    )
    assert code == 0
    assert "method: rl" in out and "rl_samples: 4" in out and "use_date: true" in out
    code, _, err = run_cli(["--config", tmp_path / "nope.yaml"], capsys)
    assert code == 2 and "config file not found" in err
