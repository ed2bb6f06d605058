"""Two writers on one output (issue 17, item 3): a lock on the output, no lock file left behind.

Two jobs writing one feedback file end with exactly one set of records or one clean refusal;
readers refuse duplicated or reordered records; two benchmark runs of the same name cannot
run at once; processes building the same model at once all end with the one complete build.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import threading
from pathlib import Path

import pytest
from reliability_fixtures import (  # noqa: F401 - private_cache is a fixture
    SAMPLE,
    one_line_error,
    pool_args,
    private_cache,
    run_main,
)

from ropg.benchmark import smoke
from ropg.cli import benchmark as benchmark_cli
from ropg.cli import feedback as feedback_cli
from ropg.errors import DataError, UserError
from ropg.feedback import feedback_by_id, read_feedback
from ropg.feedback.jsonl import ResumableJsonl
from ropg.lamp import load_split
from ropg.utils.locks import directory_lock

FORK = multiprocessing.get_context("fork")
EXAMPLES = 24


def _child(err: str, start, main, argv: list[str]) -> None:
    """A child process: stderr into ``err``; wait for the start, run ``main(argv)``, exit
    with its code."""
    sys.stderr = open(err, "w", encoding="utf-8")  # noqa: SIM115 - the process ends here
    start.wait(30)
    try:
        code = main(argv)
    finally:
        sys.stderr.flush()
    os._exit(code)


def _feedback_job(out: str, err: str, start) -> None:
    _child(err, start, feedback_cli.main, pool_args(SAMPLE, out, limit=EXAMPLES))


def test_two_writers_on_one_output_give_one_set_of_records_or_a_clean_refusal(tmp_path):
    ids = load_split(SAMPLE, "LaMP-3", "dev").ids[:EXAMPLES]
    for attempt in range(3):
        out = tmp_path / f"pool{attempt}.jsonl"
        start = FORK.Event()
        errors = [tmp_path / f"err{attempt}-{i}.txt" for i in range(2)]
        jobs = [
            FORK.Process(target=_feedback_job, args=(str(out), str(error), start))
            for error in errors
        ]
        for job in jobs:
            job.start()
        start.set()
        for job in jobs:
            job.join(120)
        codes = [job.exitcode for job in jobs]
        assert 0 in codes and set(codes) <= {0, 2}, codes
        for code, error in zip(codes, errors):
            text = error.read_text(encoding="utf-8")
            assert "Traceback" not in text
            if code == 2:
                assert one_line_error(code, text) and "another job is writing" in text
        _, records = feedback_by_id(out, ids)  # every example once, in split order
        assert list(records) == ids
        assert sorted(path.name for path in tmp_path.glob(f"pool{attempt}*")) == [out.name]


def _hold(out: str, held, release) -> None:
    """A child process that holds ``out`` open as a writer until ``release`` is set."""
    with ResumableJsonl(out, {"task": "LaMP-3"}) as writer:
        writer.append([{"id": "1"}])
        held.set()
        release.wait(60)
    os._exit(0)


def test_a_second_writer_is_refused_while_another_process_holds_the_file(tmp_path, capsys):
    out = tmp_path / "pool.jsonl"
    held, release = FORK.Event(), FORK.Event()
    holder = FORK.Process(target=_hold, args=(str(out), held, release))
    holder.start()
    try:
        assert held.wait(60)
        code, err = run_main(feedback_cli.main, pool_args(SAMPLE, out), capsys)
        assert one_line_error(code, err) and "another job is writing" in err
    finally:
        release.set()
        holder.join(60)
    assert out.read_text(encoding="utf-8").count("\n") == 2  # header and the one record
    assert not [p for p in tmp_path.iterdir() if p != out]  # no lock file, no temporary
    with ResumableJsonl(out, {"task": "LaMP-3"}) as writer:  # released: resumed
        assert writer.done == ["1"]


def test_a_writer_left_open_by_a_failed_job_of_this_process_is_taken_over(tmp_path):
    """A traceback may keep a failed job's writer alive: a retry in the same process is not
    "another job"; the old writer can write nothing more, so nothing is duplicated."""
    out = tmp_path / "job.jsonl"
    stale = ResumableJsonl(out, {"task": "LaMP-3"})
    stale.append([{"id": "1"}])
    with ResumableJsonl(out, {"task": "LaMP-3"}) as retry:
        assert retry.done == ["1"]
        with pytest.raises(DataError, match="is closed"):
            stale.append([{"id": "2"}])
        retry.append([{"id": "2"}])
    assert [r["id"] for r in read_feedback(out)[1]] == ["1", "2"]


def _double(path: Path, reorder: bool = False) -> Path:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    header, records = lines[0], lines[1:]
    changed = path.with_name("changed.jsonl")
    body = records[::-1] if reorder else records + records
    changed.write_text(header + "".join(body), encoding="utf-8")
    return changed


def test_readers_refuse_duplicated_or_reordered_records(tmp_path, capsys):
    out = tmp_path / "pool.jsonl"
    assert run_main(feedback_cli.main, pool_args(SAMPLE, out, limit=4), capsys)[0] == 0
    ids = load_split(SAMPLE, "LaMP-3", "dev").ids[:4]
    duplicated = _double(out)
    with pytest.raises(DataError, match="duplicate record"):
        read_feedback(duplicated)
    with pytest.raises(DataError, match="duplicate record"):
        ResumableJsonl(duplicated, read_feedback(out)[0])  # a re-run does not accept it
    from ropg.selection import load_pool_records

    with pytest.raises(DataError, match="duplicate record"):
        load_pool_records(duplicated, task="LaMP-3")
    reordered = _double(out, reorder=True)
    with pytest.raises(DataError, match="not in split order"):
        feedback_by_id(reordered, ids)


def test_a_second_run_of_the_same_name_is_refused_in_one_line(tmp_path, capsys):
    from test_reliability_files import _tiny_benchmark

    config = _tiny_benchmark(tmp_path)
    run_dir = tmp_path / "results" / "run"
    argv = ["--config", str(config), "--stages", "rank", "--no-progress"]
    with directory_lock(run_dir, wait=False):  # what a running run holds
        code, err = run_main(benchmark_cli.main, argv, capsys)
        assert one_line_error(code, err) and "another run is using this run name" in err
    assert run_main(benchmark_cli.main, argv, capsys)[0] == 0  # released: it runs
    assert not [p for p in run_dir.iterdir() if p.name.endswith(".lock")]


def _benchmark_job(config: str, err: str, start) -> None:
    _child(err, start, benchmark_cli.main, ["--config", config, "--no-progress", "-q"])


def test_two_runs_of_the_same_name_at_once_give_one_run_or_a_clean_refusal(tmp_path):
    from test_reliability_files import _tiny_benchmark

    config = _tiny_benchmark(tmp_path)
    start = FORK.Event()
    errors = [tmp_path / f"err{i}.txt" for i in range(2)]
    jobs = [FORK.Process(target=_benchmark_job, args=(str(config), str(e), start)) for e in errors]
    for job in jobs:
        job.start()
    start.set()
    for job in jobs:
        job.join(300)
    codes = [job.exitcode for job in jobs]
    assert 0 in codes and set(codes) <= {0, 2}, codes
    for code, error in zip(codes, errors):
        text = error.read_text(encoding="utf-8")
        assert "Traceback" not in text
        if code == 2:
            assert "another run is using this run name" in text
    scores = tmp_path / "results" / "run" / "scores" / "reader" / "LaMP-3" / "bm25.json"
    assert json.loads(scores.read_text(encoding="utf-8"))


def in_two_threads(call, timeout: float) -> list[object]:
    """What ``call`` returned (or raised) in each of two threads started together."""
    results: list[object] = []

    def record() -> None:
        try:
            results.append(call())
        except Exception as error:  # noqa: BLE001 - the test reports it
            results.append(error)

    threads = [threading.Thread(target=record) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return results


def test_model_builds_racing_into_one_directory_end_with_one_complete_build(tmp_path, monkeypatch):
    """Two runs sharing a cache directory build the same model at the same moment."""
    both_building = threading.Barrier(2, timeout=30)

    def slow_build(directory: Path) -> Path:
        both_building.wait()  # each is building in its own temporary directory
        (directory / "weights.bin").write_bytes(os.urandom(64))
        (directory / "config.json").write_text("{}", encoding="utf-8")
        return directory

    monkeypatch.setitem(smoke.BUILDERS, "smoke-t5", slow_build)
    target = tmp_path / "models" / "smoke-t5"
    results = in_two_threads(lambda: smoke.build_model("smoke-t5", target), timeout=60)
    assert results == [target, target]
    assert sorted(p.name for p in target.parent.iterdir()) == ["smoke-t5"]  # no temporaries
    assert sorted(p.name for p in target.iterdir()) == ["config.json", "weights.bin"]
    assert smoke.build_model("smoke-t5", target) == target  # a complete build is reused


@pytest.mark.parametrize("which", ["tiny-t5", "tiny-chat"])
def test_tiny_models_built_by_two_jobs_at_once_end_with_one_build(tmp_path, monkeypatch, which):
    """Two worker processes of a run (``jobs: 2``) need the same tiny model at the same time."""
    from transformers import (  # noqa: F401 - imported once: two threads importing race
        LlamaForCausalLM,
        T5ForConditionalGeneration,
    )

    from ropg.multistage import tiny as tiny_t5
    from ropg.reflection import tiny as tiny_chat

    module = tiny_t5 if which == "tiny-t5" else tiny_chat
    both_building = threading.Barrier(2, timeout=60)
    original = module.word_tokenizer

    def slow_tokenizer(*args, **kwargs):
        both_building.wait()  # each is building in its own temporary directory
        return original(*args, **kwargs)

    monkeypatch.setattr(module, "word_tokenizer", slow_tokenizer)
    texts = ["a passage about music", "another one about guitars"]
    if which == "tiny-t5":
        target = tmp_path / "models" / "tiny-t5"

        def build() -> object:
            return tiny_t5.build_tiny_t5(target, texts)
    else:
        target = tmp_path / "models" / "tiny-chat"

        def build() -> object:
            return Path(tiny_chat.resolve_tiny("tiny-chat", tmp_path, texts, []))

    results = in_two_threads(build, timeout=120)
    assert results == [target, target]
    assert [p.name for p in target.parent.iterdir()] == [target.name]  # no temporaries left
    assert (target / "config.json").is_file()


HOLD_LOCK = """
import sys, time
from ropg.feedback.jsonl import ResumableJsonl
store = ResumableJsonl(sys.argv[1], {"stage": "rank"})
print("locked", flush=True)
time.sleep(60)
"""


def test_a_finished_workspace_artifact_is_read_while_another_job_holds_its_file(tmp_path):
    """Two multistage rows in two processes read the base ranking an earlier row finished."""
    import subprocess

    from ropg.multistage.workspace import resumable_records

    path = tmp_path / "rank" / "train.jsonl"
    header = {"stage": "rank"}

    def compute(ids):
        return [{"id": i, "text": f"context of {i}"} for i in ids]

    written = resumable_records(path, header, ["q1", "q2"], compute, 8)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(path)],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"

        def must_not_compute(ids):
            raise AssertionError(f"recomputed {ids}")

        assert resumable_records(path, header, ["q1", "q2"], must_not_compute, 8) == written
        with pytest.raises(UserError, match="another job is writing this file"):
            resumable_records(path, header, ["q1", "q2", "q3"], compute, 8)  # unfinished
    finally:
        holder.kill()
        holder.wait()
