"""Users' files are safe (issue 17, items 1, 2 and 7).

1. A resumable output resumes only a file that is recognisably ropg feedback of the same job;
   anything else is refused untouched.
2. Every output option of every command does what the user means with a special path (a
   symlink, a FIFO, ``/dev/null``) or refuses it in one line (a directory, a path under a file,
   a foreign directory), and never replaces a device or turns a FIFO/symlink into a file.
7. Nothing is written before a job can start, and a file that holds no record never blocks a
   re-run with other settings.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from reliability_fixtures import (  # noqa: F401 - private_cache is a fixture
    SAMPLE,
    copy_split,
    edit_json,
    one_line_error,
    outputs_file,
    pool_args,
    private_cache,
    questions_file,
    run_main,
    snapshot,
)

from ropg.cli import benchmark as benchmark_cli
from ropg.cli import eval as eval_cli
from ropg.cli import feedback as feedback_cli
from ropg.cli import rank as rank_cli
from ropg.cli import rspg_train as rspg_cli
from ropg.cli import train as train_cli
from ropg.errors import DataError
from ropg.feedback.jsonl import HEADER_KEY, ResumableJsonl, read_feedback
from ropg.lamp.synthetic.generate import main as synthetic_main

QUESTIONS = questions_file(Path(SAMPLE))


# -- item 1: foreign files are refused untouched ---------------------------------------------
FOREIGN = {
    "a questions file (one line, no newline)": QUESTIONS.read_bytes(),
    "pretty-printed JSON": json.dumps(
        {"task": "LaMP_3", "golds": [{"id": "1"}]}, indent=2
    ).encode(),
    "binary": bytes(range(256)) * 4,
    "a JSONL whose first line is a list": b'[1, 2]\n{"id": "x"}\n',
    "a JSONL of records without a header": b'{"id": "1", "output": "3"}\n{"id": "2"}\n',
    "a header-like line of another tool": b'{"ropg_feedback": [1], "other": 2}\n',
    "text": b"notes, not feedback\nsecond line\n",
    "a partial line that is not ours": b'{"id": "1", "output": "3"',
}


@pytest.mark.parametrize("content", list(FOREIGN.values()), ids=list(FOREIGN))
def test_a_foreign_file_at_out_is_refused_untouched(content, tmp_path, capsys):
    out = tmp_path / "out.jsonl"
    out.write_bytes(content)
    code, err = run_main(feedback_cli.main, pool_args(SAMPLE, out), capsys)
    assert one_line_error(code, err) and "left untouched" in err
    assert out.read_bytes() == content
    with pytest.raises(DataError, match="left untouched"):
        ResumableJsonl(out, {"task": "LaMP-3"}, restart_on_mismatch=True)
    assert out.read_bytes() == content  # not even a "start over" touches a foreign file


def test_the_splits_own_questions_file_as_out_survives(tmp_path, capsys):
    """The issue's reproduction: ``--out`` naming the split's own ``dev_questions.json``."""
    data = copy_split(tmp_path)
    questions = questions_file(data)
    before = questions.read_bytes()
    code, err = run_main(feedback_cli.main, pool_args(data, questions), capsys)
    assert one_line_error(code, err)
    assert questions.read_bytes() == before


def test_our_file_of_the_same_job_is_resumed_and_only_then_its_torn_line_dropped(tmp_path, capsys):
    reference, out = tmp_path / "reference.jsonl", tmp_path / "out.jsonl"
    assert run_main(feedback_cli.main, pool_args(SAMPLE, reference, limit=4), capsys)[0] == 0
    lines = reference.read_bytes().splitlines(keepends=True)
    out.write_bytes(b"".join(lines[:3]) + lines[3][:10])  # header, 2 records, a torn line
    assert run_main(feedback_cli.main, pool_args(SAMPLE, out, limit=4), capsys)[0] == 0
    assert out.read_bytes() == reference.read_bytes()
    # the same file with a corrupt complete record: refused, nothing dropped or appended
    corrupt = b"".join(lines[:2]) + b"not json\n" + lines[3][:10]
    out.write_bytes(corrupt)
    code, err = run_main(feedback_cli.main, pool_args(SAMPLE, out, limit=4), capsys)
    assert one_line_error(code, err) and "corrupt record" in err
    assert out.read_bytes() == corrupt


# -- item 7: nothing written before the job can start; an empty file never blocks -----------
def test_a_job_that_fails_before_its_first_records_leaves_no_file(tmp_path, capsys):
    data = copy_split(tmp_path)

    def bad_date(questions: list) -> None:  # the first example with a profile
        next(q for q in questions if q["profile"])["profile"][0]["date"] = "last spring"

    edit_json(questions_file(data), bad_date)
    out = tmp_path / "pool.jsonl"
    failing = pool_args(data, out, "--chunk-size", "8", retrievers="none,recency")  # 1 chunk
    code, err = run_main(feedback_cli.main, failing, capsys)
    assert one_line_error(code, err) and "last spring" in err
    assert not out.exists()
    # the corrected run (another pool, as the message's fix may imply) is not blocked
    assert run_main(feedback_cli.main, pool_args(data, out), capsys)[0] == 0
    header, records = read_feedback(out)
    assert header["retrievers"] == ["none", "bm25"] and len(records) == 3


def test_a_header_only_file_of_other_settings_is_ours_and_started_over(tmp_path, capsys):
    out = tmp_path / "pool.jsonl"
    stale = {HEADER_KEY: {"task": "LaMP-3", "kind": "pool", "retrievers": ["none", "recency"]}}
    for content in (json.dumps(stale) + "\n", json.dumps(stale)[:25]):  # whole, and torn
        out.write_text(content, encoding="utf-8")
        assert run_main(feedback_cli.main, pool_args(SAMPLE, out), capsys)[0] == 0
        header, records = read_feedback(out)
        assert header["retrievers"] == ["none", "bm25"] and len(records) == 3
        out.unlink()


def test_a_file_with_records_of_other_settings_is_still_refused(tmp_path, capsys):
    out = tmp_path / "pool.jsonl"
    assert run_main(feedback_cli.main, pool_args(SAMPLE, out), capsys)[0] == 0
    before = out.read_bytes()
    code, err = run_main(feedback_cli.main, pool_args(SAMPLE, out, "--k", "3"), capsys)
    assert one_line_error(code, err) and "different settings" in err
    assert out.read_bytes() == before


# -- item 2: special paths, for every output option -------------------------------------------
@pytest.fixture(scope="module")
def pool_file(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pool") / "pool.jsonl"
    assert feedback_cli.main(pool_args(SAMPLE, out, limit=6)) == 0
    return out


def _rank(path: Path, tmp: Path) -> list[str]:
    return ["--data", str(SAMPLE), "--task", "LaMP-3", "--split", "dev", "--retriever", "bm25",
            "--top-k", "2", "--out", str(path), "--no-progress"]  # fmt: skip


def _compare_main(argv: list[str]) -> int:
    """``ropg compare --html`` with the comparison itself stubbed (two real runs would take
    a minute): what is checked is how the page is written."""
    from unittest import mock

    from ropg.cli import compare as compare_cli
    from ropg.reports.model import Report

    with (
        mock.patch("ropg.reports.compare_runs", return_value=Report("A vs B")),
        mock.patch("ropg.reports.report_markdown", return_value=""),
    ):
        return compare_cli.main(argv)


FILE_WRITERS: dict[str, tuple[Callable, Callable[[Path, Path], list[str]]]] = {
    "ropg compare --html": (_compare_main, lambda path, tmp: ["a", "b", "--html", str(path)]),
    "ropg-rank --out": (rank_cli.main, _rank),
    "ropg-rank --merged": (
        rank_cli.main,
        lambda path, tmp: [*_rank(tmp / "rankings.json", tmp), "--merged", str(path)],
    ),
    "ropg-eval --output": (
        eval_cli.main,
        lambda path, tmp: [
            "--golds",
            str(outputs_file(Path(SAMPLE))),
            "--preds",
            str(outputs_file(Path(SAMPLE))),
            "--output",
            str(path),
        ],  # fmt: skip
    ),
}


def _read_fifo(path: Path, into: list[bytes]) -> threading.Thread:
    def read() -> None:
        with open(path, "rb") as stream:
            into.append(stream.read())

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


@pytest.mark.parametrize("writer", list(FILE_WRITERS))
def test_file_outputs_follow_symlinks_stream_to_fifos_and_refuse_the_rest(writer, tmp_path, capsys):
    main, argv = FILE_WRITERS[writer]
    # an existing file that is not this kind of ropg output: refused untouched, in one line
    existing = tmp_path / "existing.json"
    existing.write_text("old content", encoding="utf-8")
    code, err = run_main(main, argv(existing, tmp_path), capsys)
    assert one_line_error(code, err) and "--overwrite" in err
    assert existing.read_text(encoding="utf-8") == "old content"
    # --overwrite replaces it, atomically
    assert run_main(main, [*argv(existing, tmp_path), "--overwrite"], capsys)[0] == 0
    written = existing.read_text(encoding="utf-8")
    assert written != "old content"
    # ropg's own earlier output is replaced by a re-run (a merged questions file has the
    # questions' own format, so it is never taken for ropg's: it needs --overwrite)
    code, err = run_main(main, argv(existing, tmp_path), capsys)
    if writer == "ropg-rank --merged":
        assert one_line_error(code, err) and existing.read_text(encoding="utf-8") == written
    else:
        assert code == 0
    # a symlink: its target is written, the link stays a link
    target, link = tmp_path / "target.json", tmp_path / "link.json"
    link.symlink_to(target)
    assert run_main(main, argv(link, tmp_path), capsys)[0] == 0
    assert link.is_symlink() and target.read_text(encoding="utf-8").strip()
    # a FIFO: written straight through, still a FIFO
    fifo, received = tmp_path / "fifo", []
    os.mkfifo(fifo)
    reader = _read_fifo(fifo, received)
    assert run_main(main, argv(fifo, tmp_path), capsys)[0] == 0
    reader.join(30)
    assert fifo.is_fifo() and received[0].strip()
    if writer != "ropg compare --html":
        json.loads(received[0])
    # /dev/null: written to, still the device
    assert run_main(main, argv(Path(os.devnull), tmp_path), capsys)[0] == 0
    assert Path(os.devnull).is_char_device()
    # a directory, a path under a file: one line, nothing changed
    folder, plain = tmp_path / "folder", tmp_path / "plain.txt"
    folder.mkdir()
    (folder / "keep.txt").write_text("keep", encoding="utf-8")
    plain.write_text("plain", encoding="utf-8")
    for bad in (folder, plain / "out.json"):
        before = (snapshot(folder), snapshot(plain))
        assert one_line_error(*run_main(main, argv(bad, tmp_path), capsys))
        assert (snapshot(folder), snapshot(plain)) == before


def test_the_resumable_feedback_output_takes_only_regular_files(tmp_path, capsys):
    target, link = tmp_path / "real.jsonl", tmp_path / "link.jsonl"
    link.symlink_to(target)  # a link to a file that is not there yet
    assert run_main(feedback_cli.main, pool_args(SAMPLE, link), capsys)[0] == 0
    assert link.is_symlink() and len(read_feedback(target)[1]) == 3
    assert run_main(feedback_cli.main, pool_args(SAMPLE, link), capsys)[0] == 0  # resumed
    assert len(read_feedback(target)[1]) == 3
    fifo, folder, plain = tmp_path / "fifo", tmp_path / "folder", tmp_path / "plain.txt"
    os.mkfifo(fifo)
    folder.mkdir()
    plain.write_text("plain", encoding="utf-8")
    for bad in (fifo, Path(os.devnull), folder, plain / "x.jsonl"):
        before = (snapshot(fifo), snapshot(folder), snapshot(plain))
        code, err = run_main(feedback_cli.main, pool_args(SAMPLE, bad), capsys)
        assert one_line_error(code, err), err
        assert (snapshot(fifo), snapshot(folder), snapshot(plain)) == before
    assert Path(os.devnull).is_char_device()


def _tiny_benchmark(tmp: Path) -> Path:
    import yaml

    config = {
        "name": "run", "output_root": str(tmp / "results"), "data": "sample",
        "tasks": ["LaMP-3"], "limit": 3, "k": 2, "cache_dir": "run", "offline": True,
        "families": ["baselines"],
        "llms": [{"name": "reader", "spec": "reader:profile", "methods": ["baselines"],
                  "generation": {"num_beams": 1, "max_new_tokens": 16}}],
        "retrievers": {"bm25": {"retriever": "bm25"}},
    }  # fmt: skip
    path = tmp / "bench.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def _output_dirs(tmp: Path, pool: Path) -> dict[str, Callable[[Path], list[str]]]:
    config = _tiny_benchmark(tmp)
    return {
        "ropg-train --output-dir": lambda path: [
            "--task",
            "LaMP-3",
            "--method",
            "kd",
            "--train-feedback",
            str(pool),
            "--output-dir",
            str(path),
            "--model",
            str(tmp / "no-model"),
        ],  # fmt: skip
        "rspg-train --output-dir": lambda path: [
            "--analyze-only",
            "--task",
            "LaMP-3",
            "--train-feedback",
            str(pool),
            "--output-dir",
            str(path),
        ],  # fmt: skip
        "run_all name": lambda path: [
            "--config",
            str(config),
            "--stages",
            "rank",
            "--no-progress",
            f"output_root={path.parent}",
            f"name={path.name}",
        ],  # fmt: skip
        "run_all output_root": lambda path: [
            "--config",
            str(config),
            "--stages",
            "rank",
            "--no-progress",
            f"output_root={path}",
        ],  # fmt: skip
        "python -m ropg.lamp.synthetic --out": lambda path: [
            "--out",
            str(path),
            "--users",
            "3",
            "--tasks",
            "LaMP-3",
            "--max-profile",
            "5",
        ],  # fmt: skip
    }


DIR_MAINS = {
    "ropg-train --output-dir": train_cli.main,
    "rspg-train --output-dir": rspg_cli.main,
    "run_all name": benchmark_cli.main,
    "run_all output_root": benchmark_cli.main,
    "python -m ropg.lamp.synthetic --out": synthetic_main,
}


@pytest.mark.parametrize("writer", list(DIR_MAINS))
def test_directory_outputs_refuse_files_fifos_and_paths_under_files(
    writer, tmp_path, pool_file, capsys
):
    main, argv = DIR_MAINS[writer], _output_dirs(tmp_path, pool_file)[writer]
    plain, fifo = tmp_path / "plain.txt", tmp_path / "fifo"
    plain.write_text("plain", encoding="utf-8")
    os.mkfifo(fifo)
    for bad in (plain, fifo, plain / "sub"):
        before = (snapshot(plain), snapshot(fifo))
        code, err = run_main(main, argv(bad), capsys)
        assert code == 2 and "Traceback" not in err and err.strip(), err
        assert (snapshot(plain), snapshot(fifo)) == before


FOREIGN_DIR_REFUSED = ("ropg-train --output-dir", "rspg-train --output-dir", "run_all name")


@pytest.mark.parametrize("writer", FOREIGN_DIR_REFUSED)
def test_a_foreign_non_empty_directory_is_refused_untouched(writer, tmp_path, pool_file, capsys):
    """Item 4 (and the run directory): e.g. ``--output-dir`` naming the ``--model`` folder."""
    main, argv = DIR_MAINS[writer], _output_dirs(tmp_path, pool_file)[writer]
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"model_type": "bert"}', encoding="utf-8")
    (model / "model.safetensors").write_bytes(b"weights")
    before = snapshot(model)
    code, err = run_main(main, argv(model), capsys)
    assert one_line_error(code, err) and "not empty" in err
    assert snapshot(model) == before


def test_rspg_report_and_run_all_follow_a_symlink_to_a_directory(tmp_path, pool_file, capsys):
    argv = _output_dirs(tmp_path, pool_file)
    for writer, marker in (("rspg-train --output-dir", "analysis.md"), ("run_all name", "state")):
        real, link = tmp_path / f"real-{writer[:4]}", tmp_path / f"link-{writer[:4]}"
        real.mkdir()
        link.symlink_to(real, target_is_directory=True)
        assert run_main(DIR_MAINS[writer], argv[writer](link), capsys)[0] == 0
        assert link.is_symlink() and (real / marker).exists()
        # again: the directory now holds ropg's own output, which is written again
        assert run_main(DIR_MAINS[writer], argv[writer](link), capsys)[0] == 0


def _rank_data(data: Path, out: Path) -> list[str]:
    return ["--data", str(data), "--task", "LaMP-3", "--split", "dev", "--retriever", "bm25",
            "--out", str(out), "--no-progress"]  # fmt: skip


INPUT_AS_OUTPUT = {
    "ropg-rank --out": (rank_cli.main, lambda data: _rank_data(data, questions_file(data))),
    "ropg-rank --merged": (
        rank_cli.main,
        lambda data: [*_rank_data(data, data.parent / "r.json"), "--merged",
                      str(outputs_file(data))],
    ),
    "ropg-eval --output": (
        eval_cli.main,
        lambda data: ["--golds", str(outputs_file(data)), "--preds", str(outputs_file(data)),
                      "--output", str(outputs_file(data))],
    ),
}  # fmt: skip


@pytest.mark.parametrize("writer", list(INPUT_AS_OUTPUT))
def test_an_output_naming_an_input_is_refused_even_with_overwrite(writer, tmp_path, capsys):
    """``ropg-rank --out`` onto the split's own questions file replaced it with rankings."""
    data = copy_split(tmp_path)
    main, argv = INPUT_AS_OUTPUT[writer]
    before = snapshot(data)
    for extra in ([], ["--overwrite"]):
        code, err = run_main(main, [*argv(data), *extra], capsys)
        assert one_line_error(code, err) and "is an input of this command" in err
        assert snapshot(data) == before
