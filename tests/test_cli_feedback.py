"""``ropg-feedback`` end to end with a tiny T5: a real ``kill -9`` midway, then a resume."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from generation_fixtures import save_t5

from ropg.cli.feedback import main
from ropg.generation import GenerationCache
from ropg.lamp.synthetic import sample_path


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    return save_t5(tmp_path_factory.mktemp("feedback-t5"))


def args(model_dir: Path, cache: Path, out: Path, *extra: str) -> list[str]:
    return [
        "candidates",
        "--data",
        str(sample_path()),
        "--task",
        "LaMP-2",
        "--split",
        "train",
        "--retriever",
        "bm25",
        "--candidates",
        "8",
        "--llm",
        f"hf:{model_dir}",
        "--num-beams",
        "2",
        "--max-new-tokens",
        "8",
        "--max-length",
        "128",
        "--batch-size",
        "8",
        "--chunk-size",
        "2",
        "--cache",
        str(cache),
        "--out",
        str(out),
        "--no-progress",
        "--limit",
        "30",
        *extra,
    ]


def count_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def test_kill_9_then_resume_gives_the_uninterrupted_file(model_dir, tmp_path):
    reference = tmp_path / "reference.jsonl"
    assert main(args(model_dir, tmp_path / "ref.sqlite", reference)) == 0
    total = count_lines(reference) - 1
    unique_prompts = GenerationCache(tmp_path / "ref.sqlite").stats().entries

    out, cache = tmp_path / "fb.jsonl", tmp_path / "cache.sqlite"
    command = [sys.executable, "-m", "ropg.cli.feedback", *args(model_dir, cache, out)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while count_lines(out) < 4 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    finished = count_lines(out) - 1
    assert process.returncode == -signal.SIGKILL
    assert 0 < finished < total, "the job must be killed midway"
    cached_before = GenerationCache(cache).stats().entries

    rerun = subprocess.run(
        [sys.executable, "-m", "ropg.cli.feedback", *args(model_dir, cache, out, "-v")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert out.read_bytes() == reference.read_bytes()
    generated = sum(int(n) for n in re.findall(r"\d+ cached, (\d+) to generate", rerun.stderr))
    assert generated == unique_prompts - cached_before  # nothing finished is generated again


def test_user_errors_exit_2(model_dir, tmp_path, capsys):
    out = tmp_path / "fb.jsonl"
    assert main(args(model_dir, tmp_path / "c.sqlite", out, "--task", "LaMP-9")) == 2
    assert "unknown task" in capsys.readouterr().err
    bad = args(model_dir, tmp_path / "c.sqlite", out)
    bad[bad.index("--retriever") + 1] = "no-such-retriever"
    assert main(bad) == 2
    assert "unknown retriever" in capsys.readouterr().err
    bad = args(tmp_path / "missing-model", tmp_path / "c.sqlite", out)
    assert main(bad) == 2
    assert "missing-model" in capsys.readouterr().err
    # a bad retriever option is reported before the model is looked at (it is missing here)
    bad += ["--retriever-option", "bogus=1"]
    assert main(bad) == 2
    assert "retriever 'bm25' rejected its options (bogus)" in capsys.readouterr().err
    bad[-1] = "k1=[1,"
    assert main(bad) == 2
    assert "--retriever-option k1: cannot parse the value '[1,'" in capsys.readouterr().err
    assert not out.exists()


def test_pool_command(model_dir, tmp_path):
    out = tmp_path / "pool.jsonl"
    command = args(model_dir, tmp_path / "c.sqlite", out)
    command[command.index("--limit") + 1] = "5"
    command[0] = "pool"
    position = command.index("--retriever")
    command[position : position + 4] = ["--retrievers", "none,recency,bm25", "--k", "2"]
    assert main(command) == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0])["ropg_feedback"]["retrievers"] == ["none", "recency", "bm25"]
    records = [json.loads(line) for line in lines[1:]]
    assert len(records) == 5
    assert all(set(r["retrievers"]) == {"none", "recency", "bm25"} for r in records)


def test_likelihood_signal_is_the_models_log_probability_of_the_gold(model_dir, tmp_path):
    from ropg.generation import GenerationConfig, get_generator
    from ropg.lamp import load_split

    out = tmp_path / "likelihood.jsonl"
    extra = ["--signal", "likelihood", "--store-prompts"]
    argv = args(model_dir, tmp_path / "c.sqlite", out, *extra)
    argv[argv.index("--limit") + 1] = "4"
    assert main(argv) == 0
    lines = out.read_text().splitlines()
    assert json.loads(lines[0])["ropg_feedback"]["signal"] == "likelihood"
    records = [json.loads(line) for line in lines[1:]]
    golds = {e.id: e.gold for e in load_split(sample_path(), "LaMP-2", "train").examples}
    prompts = [c["prompt"] for r in records for c in r["candidates"]]
    targets = [golds[r["id"]] for r in records for c in r["candidates"]]
    llm = get_generator(f"hf:{model_dir}", config=GenerationConfig(max_input_length=128))
    expected = llm.score(prompts, targets)
    found = [c["score"] for r in records for c in r["candidates"]]
    assert len(found) > 0 and all(c["output"] is None for r in records for c in r["candidates"])
    assert found == pytest.approx(expected, rel=1e-4)
    assert all(score < 0 for score in found)
