"""Loading LaMP splits from both layouts, explicit files and datasets; validation errors."""

from __future__ import annotations

import json
import logging

import pytest
from lamp_inputs import INPUTS

from ropg.lamp import LampDataError, LampError, load_split, write_predictions
from ropg.lamp.data import find_split_files


def use_stdlib_loading(monkeypatch):
    """Load as ropg did before its fast path: ``json`` and the item-by-item profile check."""
    import ropg.lamp.data as data
    import ropg.lamp.json_files as json_files

    monkeypatch.setattr(json_files, "fast_decode_file", lambda path: json_files.REFUSED)
    monkeypatch.setattr(data, "_plain_profile", lambda profile, needed: False)


@pytest.fixture(params=["fast", "stdlib"])
def loading(request, monkeypatch):
    """Run a test through the fast loading path and through the standard-library one."""
    if request.param == "stdlib":
        use_stdlib_loading(monkeypatch)
    return request.param


def questions(task="LaMP-2", count=3, profile_size=2):
    fields = {
        "LaMP-2": {"description": "a movie", "tag": "comedy"},
        "LaMP-3": {"text": "ok", "score": "4"},
    }
    return [
        {
            "id": f"q{i}",
            "input": INPUTS[task],
            "user_id": f"u{i}",
            "profile": [
                {"id": f"p{i}-{j}", "date": "2020-01-01", **fields[task]}
                for j in range(profile_size)
            ],
        }
        for i in range(count)
    ]


def outputs(official="LaMP_2", count=3, output="comedy"):
    return {"task": official, "golds": [{"id": f"q{i}", "output": output} for i in range(count)]}


def write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data) if not isinstance(data, str) else data, encoding="utf-8")
    return path


def test_time_layout(tmp_path):
    write(tmp_path / "time/LaMP_2/dev/dev_questions.json", questions())
    write(tmp_path / "time/LaMP_2/dev/dev_outputs.json", outputs())
    split = load_split(tmp_path, "LaMP-2", "dev")
    assert len(split) == 3 and split.ids == ["q0", "q1", "q2"]
    example = split["q1"]
    assert example.user_id == "u1" and example.gold == "comedy" and len(example.profile) == 2
    assert split.golds() == ["comedy"] * 3


def test_user_layout_movie_tagging_lives_under_new(tmp_path):
    write(tmp_path / "LaMP_2/new/train/train_questions.json", questions())
    write(tmp_path / "LaMP_2/new/train/train_outputs.json", outputs())
    assert len(load_split(tmp_path, "LaMP_2", "train", layout="user")) == 3
    assert load_split(tmp_path, "LaMP-2", "train").has_golds


def test_test_split_without_outputs(tmp_path):
    write(tmp_path / "time/LaMP_2/test/test_questions.json", questions())
    split = load_split(tmp_path, "LaMP-2", "test")
    assert not split.has_golds
    with pytest.raises(LampError, match="no gold"):
        split.golds()
    with pytest.raises(LampDataError, match="no outputs file"):
        load_split(tmp_path, "LaMP-2", "test", require_golds=True)


def test_ambiguous_and_missing_layouts(tmp_path):
    write(tmp_path / "time/LaMP_2/dev/dev_questions.json", questions())
    write(tmp_path / "LaMP_2/new/dev/dev_questions.json", questions())
    with pytest.raises(LampDataError, match="several"):
        find_split_files(tmp_path, "LaMP-2", "dev")
    assert find_split_files(tmp_path, "LaMP-2", "dev", layout="time")[0].parts[-4] == "time"
    with pytest.raises(LampDataError, match="no LaMP-3 dev questions file"):
        load_split(tmp_path, "LaMP-3", "dev")
    with pytest.raises(LampDataError, match="data directory not found"):
        load_split(tmp_path / "nope", "LaMP-3", "dev")


def test_explicit_files(tmp_path):
    q = write(tmp_path / "q.json", questions("LaMP-3"))
    o = write(tmp_path / "o.json", outputs("LaMP_3", output="4"))
    split = load_split(None, "LaMP-3", "dev", questions=q, outputs=o)
    assert split.golds() == ["4", "4", "4"]


def test_lamp6_wrapped_questions_are_unwrapped(tmp_path):
    wrapped = {"task": "LaMP_2", "golds": questions()}
    q = write(tmp_path / "q.json", wrapped)
    assert len(load_split(None, "LaMP-2", "test", questions=q)) == 3


@pytest.mark.parametrize(
    ("mutate", "message", "where"),
    [
        (lambda q: "{not json", "not valid JSON", "q.json"),
        (lambda q: {"a": 1}, "expected a JSON list", "q.json"),
        (lambda q: [q[0], "x"], "expected an object, got str", "record 1"),
        (lambda q: [{**q[0], "id": None}], "expected str/int, got NoneType", "field 'id'"),
        (
            lambda q: [{k: v for k, v in q[0].items() if k != "input"}],
            "missing field",
            "field 'input'",
        ),
        (lambda q: [{**q[0], "profile": "x"}], "expected list", "id 'q0', field 'profile'"),
        (lambda q: [q[0], q[0]], "duplicate id", "record 1, id 'q0'"),
        (
            lambda q: [{**q[0], "profile": [{"id": "p", "description": "d"}]}],
            "missing field",
            "field 'profile[0].tag'",
        ),
    ],
)
def test_question_validation_names_file_record_and_field(tmp_path, loading, mutate, message, where):
    data = mutate(questions())
    q = write(tmp_path / "q.json", data if isinstance(data, str) else json.dumps(data))
    with pytest.raises(LampDataError) as info:
        load_split(None, "LaMP-2", "dev", questions=q)
    assert message in str(info.value) and where in str(info.value)
    assert str(q) in str(info.value)


def test_profile_field_type_error(tmp_path, loading):
    data = questions()
    data[1]["profile"][1]["tag"] = ["comedy"]
    q = write(tmp_path / "q.json", data)
    with pytest.raises(
        LampDataError, match=r"record 1, id 'q1', field 'profile\[1\].tag': expected"
    ):
        load_split(None, "LaMP-2", "dev", questions=q)


@pytest.mark.parametrize(
    ("golds", "message"),
    [
        (outputs("LaMP_3"), "file is for task 'LaMP_3', expected 'LaMP_2'"),
        (outputs(count=2), "1 question id(s) without output (e.g. 'q2')"),
        (outputs(count=4), "1 output id(s) without question (e.g. 'q3')"),
        ({"task": "LaMP_2"}, "field 'golds': missing field"),
        ({"task": "LaMP_2", "golds": [{"id": "q0"}]}, "field 'output': missing field"),
        ([], "expected an object with 'task' and 'golds'"),
    ],
)
def test_outputs_validation(tmp_path, loading, golds, message):
    q = write(tmp_path / "q.json", questions())
    o = write(tmp_path / "o.json", golds)
    with pytest.raises(LampDataError) as info:
        load_split(None, "LaMP-2", "dev", questions=q, outputs=o)
    assert message in str(info.value) and "o.json" in str(info.value)


def test_missing_query_marker_warns_with_location(tmp_path, caplog, loading):
    data = questions()
    data[2]["input"] = "malformed input without the marker"
    q = write(tmp_path / "q.json", data)
    with caplog.at_level(logging.WARNING, logger="ropg.lamp"):
        load_split(None, "LaMP-2", "dev", questions=q)
    assert "record 2, id 'q2', field 'input'" in caplog.text


def test_datasets_source(tmp_path):
    import datasets

    records = questions()
    for record in records:
        record["output"] = "comedy"
    split = load_split(datasets.Dataset.from_list(records), "LaMP-2", "dev")
    assert split.golds() == ["comedy"] * 3 and split["q0"].profile[0]["tag"] == "comedy"
    dataset_dict = datasets.DatasetDict({"dev": datasets.Dataset.from_list(records)})
    assert len(load_split(dataset_dict, "LaMP-2", "dev")) == 3
    with pytest.raises(LampError, match="no split 'train'"):
        load_split(dataset_dict, "LaMP-2", "train")
    # the loading code path for hub names, exercised with the local json builder
    path = write(tmp_path / "dev.jsonl", "\n".join(json.dumps(r) for r in records))
    from_json = datasets.load_dataset("json", data_files={"dev": str(path)}, split="dev")
    assert load_split(from_json, "LaMP-2", "dev").ids == ["q0", "q1", "q2"]


def test_write_predictions_official_shape(tmp_path):
    target = tmp_path / "out" / "preds.json"
    write_predictions(target, "LaMP-4", ["a", "b"], ["x", "y"])
    data = json.loads(target.read_text())
    assert data == {
        "task": "LaMP_4",
        "golds": [{"id": "a", "output": "x"}, {"id": "b", "output": "y"}],
    }
    with pytest.raises(LampError):
        write_predictions(target, "LaMP-4", ["a"], ["x", "y"])
    assert [p.name for p in target.parent.iterdir()] == ["preds.json"]
