"""``ropg-eval``: both flag forms, and exit code 2 with one clear line on bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ropg.cli.eval import main


def write(path, data):
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return str(path)


@pytest.fixture
def files(tmp_path):
    golds = {
        "task": "LaMP_1",
        "golds": [{"id": "1", "output": "[1]"}, {"id": "2", "output": "[2]"}],
    }
    preds = {
        "task": "LaMP_1",
        "golds": [{"id": "2", "output": "[2]"}, {"id": "1", "output": "[2]"}],
    }
    return write(tmp_path / "golds.json", golds), write(tmp_path / "preds.json", preds)


def test_reference_flags_write_output_file(files, tmp_path):
    golds, preds = files
    out = tmp_path / "results.json"
    args = [
        "--golds_json",
        golds,
        "--preds_json",
        preds,
        "--task_name",
        "LaMP_1",
        "--output_file",
        str(out),
    ]
    assert main(args) == 0
    assert json.loads(out.read_text()) == {"accuracy": 0.5, "f1": pytest.approx(1 / 3)}


def test_friendly_form_prints_json(files, capsys):
    golds, preds = files
    assert main(["--golds", golds, "--preds", preds]) == 0
    assert json.loads(capsys.readouterr().out)["accuracy"] == 0.5


def test_bootstrap_aggregate(tmp_path, capsys):
    golds = {"task": "LaMP_7", "golds": [{"id": str(i), "output": f"a b c {i}"} for i in range(20)]}
    preds = {"task": "LaMP_7", "golds": [{"id": str(i), "output": "a b"} for i in range(20)]}
    g, p = write(tmp_path / "g.json", golds), write(tmp_path / "p.json", preds)
    assert main(["--golds", g, "--preds", p, "--aggregate", "bootstrap", "--seed", "3"]) == 0
    assert set(json.loads(capsys.readouterr().out)) == {"rouge-1", "rouge-L"}


@pytest.mark.parametrize(
    ("preds", "task", "expected"),
    [
        ("{broken", None, "preds.json: not valid JSON"),
        ({"task": "LaMP_1", "golds": [{"id": "1", "output": "[1]"}]}, None, "ids do not match"),
        (
            {"task": "LaMP_2", "golds": [{"id": "1", "output": "x"}, {"id": "2", "output": "y"}]},
            None,
            "task is 'LaMP_2', expected 'LaMP_1'",
        ),
        (
            {"task": "LaMP_1", "golds": [{"id": "1"}, {"id": "2", "output": "[1]"}]},
            None,
            "record 0, id '1', field 'output': missing field",
        ),
        (
            {
                "task": "LaMP_1",
                "golds": [{"id": "1", "output": "[1]"}, {"id": "2", "output": "[1]"}],
            },
            "LaMP-3",
            "expected 'LaMP_3'",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_output(
    files, tmp_path, capsys, preds, task, expected
):
    golds, _ = files
    bad = write(tmp_path / "preds.json", preds)
    out = tmp_path / "results.json"
    args = ["--golds_json", golds, "--preds_json", bad, "--output_file", str(out)]
    if task:
        args += ["--task_name", task]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and expected in err and "Traceback" not in err
    assert not out.exists()


def test_console_script_exit_code(files, tmp_path):
    golds, _ = files
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ropg.cli.eval",
            "--golds",
            golds,
            "--preds",
            str(tmp_path / "missing.json"),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip().endswith("missing.json: file not found")
    assert "Traceback" not in result.stderr
