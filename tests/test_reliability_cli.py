"""Ordinary mistakes get one line and exit code 2, never a traceback; messages keep their
promise (issue 17, items 10 and 12).

The walker enumerates every command of ``ropg`` (``ropg.cli.main.COMMANDS``) and every flag
with a numeric type — from each command's dataclass config (``dataclasses.fields`` and type
hints) or its argparse parser — and runs each through ``0``, ``-1`` and a non-number.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sqlite3
import types
import typing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
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
)

from ropg.cli import benchmark as benchmark_cli
from ropg.cli import eval as eval_cli
from ropg.cli import feedback as feedback_cli
from ropg.cli import rank as rank_cli
from ropg.cli.common import user_errors_exit_2
from ropg.cli.main import COMMANDS
from ropg.cli.main import main as ropg_main
from ropg.errors import DataError, UserError
from ropg.feedback.jsonl import dumps_record
from ropg.lamp import load_split
from ropg.utils.io import atomic_write_json

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "benchmarks" / "configs" / "quickstart.yaml"
MULTISTAGE = ROOT / "benchmarks" / "configs" / "multistage.yaml"
VALUES = ("0", "-1", "abc")


def numeric_fields(cls: type, prefix: str = "") -> list[str]:
    """Dotted names of the ``int``/``float`` (or optional ones) fields of a dataclass,
    nested dataclasses included."""
    names = []
    hints = typing.get_type_hints(cls)
    for item in dataclasses.fields(cls):
        if not item.init or item.metadata.get("hidden"):
            continue
        annotation = hints[item.name]
        if dataclasses.is_dataclass(annotation):
            names += numeric_fields(annotation, f"{prefix}{item.name}.")
            continue
        if typing.get_origin(annotation) in (typing.Union, types.UnionType):
            kinds = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        else:
            kinds = [annotation]
        if any(kind in (int, float) for kind in kinds):
            names.append(prefix + item.name)
    return names


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def argparse_numeric_flags(parser: Any) -> list[str]:
    return [
        action.option_strings[0]
        for action in parser._actions
        if action.option_strings and action.type in (int, float)
    ]


# (command, walk label) -> (argv before the flag, the flags to walk, the argv after)
Walk = tuple[list[str], list[str], list[str]]


def walks(tmp: Path) -> dict[str, list[Walk]]:
    """For every command of ``ropg``: its numeric flags with a base command line that is
    valid on its own (``--print-config`` where the command has it, so no work runs)."""
    from ropg.benchmark.config import BenchmarkConfig, LLMEntry
    from ropg.cli import compare, rank
    from ropg.cli.cache import build_parser as cache_parser
    from ropg.cli.eval import EvalConfig
    from ropg.feedback.config import CandidatesConfig, PoolConfig
    from ropg.generation.base import GenerationConfig
    from ropg.multistage.config import MultistageConfig
    from ropg.reflection.config import ReflectConfig, TrajectoryConfig
    from ropg.reflection.train_config import RpoRlSettings, RpoSftSettings
    from ropg.selection.config import SelectorConfig
    from ropg.training.config import RopgTrainConfig

    out, data, golds = str(tmp / "out"), str(SAMPLE), str(outputs_file(Path(SAMPLE)))
    feedback = ["--task", "LaMP-3", "--split", "dev", "--data", data, "--llm", "reader:profile",
                "--out", out]  # fmt: skip
    training = ["--task", "LaMP-3", "--train-feedback", out, "--output-dir", out]
    rpo = ["--task", "LaMP-2", "--data", "sample", "--base-model", "reader:profile",
           "--retriever", "bm25", "--output-dir", out]  # fmt: skip
    printing = ["--print-config"]
    bench = ["--config", str(QUICKSTART), "--print-config"]

    def fields(cls: type) -> list[str]:
        return [flag(name) for name in numeric_fields(cls)]

    def overrides(cls: type, prefix: str) -> list[str]:
        return [f"{prefix}{name}=" for name in numeric_fields(cls)]

    return {
        "rank": [(["--data", data, "--task", "LaMP-3", "--retriever", "bm25", "--out", out,
                   "--no-progress"], fields(rank.RankConfig), printing)],
        "feedback": [
            (["candidates", *feedback], fields(CandidatesConfig), printing),
            (["pool", *feedback], fields(PoolConfig), printing),
        ],
        "train": [(["--method", "kd", *training], fields(RopgTrainConfig), printing)],
        "rspg-train": [(["--mode", "post", *training], fields(SelectorConfig), printing)],
        "reflect": [([*rpo, "--reflection-model", "reader:profile"], fields(ReflectConfig),
                     printing)],
        "rpo-train": [
            (["--stage", "trajectories", *rpo, "--teacher", "reader:profile"],
             fields(TrajectoryConfig), printing),
            (["--stage", "sft", "--model", "x", "--output-dir", out], fields(RpoSftSettings),
             printing),
            (["--stage", "rl", "--model", "x", *rpo[:4], "--output-dir", out],
             fields(RpoRlSettings), printing),
        ],
        "multistage": [(["build-data", "--config", str(MULTISTAGE), "--cpu"],
                        ["--" + name.replace("_", "-") for name in numeric_fields(
                            MultistageConfig)], printing)],
        "benchmark": [
            (bench, overrides(BenchmarkConfig, ""), []),
            (bench, overrides(LLMEntry, "llms.0."), []),
            (bench, overrides(GenerationConfig, "llms.0.generation."), []),
            (bench, ["ropg.rerank=", "ropg.overrides.eval_k="], []),
            (bench, overrides(RopgTrainConfig, "ropg.overrides."), []),
            (bench, overrides(SelectorConfig, "rspg.overrides."), []),
        ],
        "eval": [(["--golds", golds, "--preds", golds], fields(EvalConfig), printing)],
        "compare": [([], argparse_numeric_flags(compare.build_parser()), [])],
        "cache": [([], argparse_numeric_flags(cache_parser()), [])],
    }  # fmt: skip


def _invoke(command: str, argv: list[str], capsys) -> tuple[int, str]:
    if command == "benchmark":  # ``ropg benchmark`` re-executes itself; run its main here
        return run_main(benchmark_cli.main, argv, capsys)
    return run_main(ropg_main, [command, *argv], capsys)


def test_every_numeric_flag_of_every_command_gives_no_traceback(tmp_path, capsys):
    every = walks(tmp_path)
    assert set(every) == set(COMMANDS)  # a new command must be walked too
    walked = 0
    for command, entries in every.items():
        for before, flags, after in entries:
            if flags:  # the base line is valid on its own: a refusal is the value's
                assert _invoke(command, [*before, *after], capsys)[0] == 0, (command, before)
            for name in flags:
                for value in VALUES:
                    words = [f"{name}{value}"] if name.endswith("=") else [name, value]
                    try:
                        code, err = _invoke(command, [*before, *words, *after], capsys)
                    except Exception as error:  # the finding: an uncaught exception
                        pytest.fail(f"{command} {' '.join(words)}: {type(error).__name__}: {error}")
                    assert code in (0, 2) and "Traceback" not in err, (command, words, err)
                    if code == 2:
                        assert err.strip().splitlines()[-1].startswith(("error:", "usage:"))
                        assert "error" in err, (command, words, err)
                    walked += 1
    assert walked > 500


@pytest.mark.parametrize(
    ("value", "message"),
    [("0", "k must be >= 1"), ("-1", "k must be >= 1"), ("4.5", "expected an integer"),
     ("abc", "expected an integer")],
)  # fmt: skip
def test_the_walker_would_see_a_refusal(value, message, capsys):
    """A value the config rejects exits 2 under ``--print-config`` (so the walk means it)."""
    code, err = _invoke("benchmark", ["--config", str(QUICKSTART), "--print-config", f"k={value}"],
                        capsys)  # fmt: skip
    assert one_line_error(code, err) and message in err


# -- item 10: ordinary mistakes, by class ---------------------------------------------------------
def test_user_errors_are_caught_by_class_at_the_boundary(capsys):
    def raising(error: BaseException) -> Callable[[Sequence[str] | None], int]:
        @user_errors_exit_2
        def main(argv: Sequence[str] | None = None) -> int:
            raise error

        return main

    cases = [
        (UserError("bad setting"), "bad setting"),
        (DataError("f.json", "broken", index=3, field="x"), "f.json, record 3, field 'x'"),
        (IsADirectoryError(21, "Is a directory", "out.json"), "out.json: Is a directory"),
        (NotADirectoryError(20, "Not a directory", "f/x"), "f/x: Not a directory"),
        (FileExistsError(17, "File exists", "d"), "d: File exists"),
        (OSError(28, "No space left on device"), "No space left on device"),
        (RecursionError("maximum recursion depth exceeded"), "nested too deeply"),
        (UserError("two\nlines"), "two lines"),
    ]
    for error, message in cases:
        code, err = run_main(raising(error), [], capsys)
        assert one_line_error(code, err) and message in err, err
    with pytest.raises(ZeroDivisionError):  # a bug stays a traceback
        raising(ZeroDivisionError("bug"))([])


def test_deeply_nested_json_is_one_line(tmp_path, capsys):
    data = copy_split(tmp_path)
    nested = "[" * 100_000 + "]" * 100_000
    questions_file(data).write_text(nested, encoding="utf-8")
    code, err = run_main(feedback_cli.main, pool_args(data, tmp_path / "x.jsonl"), capsys)
    assert one_line_error(code, err) and "nested too deeply" in err
    assert str(questions_file(data)) in err  # the file is named
    config = tmp_path / "deep.yaml"
    config.write_text("a: " + "[" * 50_000 + "]" * 50_000 + "\n", encoding="utf-8")
    code, err = run_main(benchmark_cli.main, ["--config", str(config), "--print-config"], capsys)
    assert one_line_error(code, err) and "nested too deeply" in err
    feedback = tmp_path / "nested.jsonl"
    feedback.write_text('{"ropg_feedback": {}}\n' + nested + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="nested too deeply"):
        from ropg.feedback import read_feedback

        read_feedback(feedback, complete=False)


@pytest.fixture(scope="module")
def t5_dir(tmp_path_factory) -> Path:
    from ropg.benchmark.smoke import build_model

    return build_model("smoke-t5", tmp_path_factory.mktemp("t5") / "t5")


def _hf_pool(t5: Path, tmp: Path, *extra: str) -> list[str]:
    return pool_args(SAMPLE, tmp / "hf.jsonl", "--llm", f"hf:{t5}", "--num-beams", "1",
                     "--max-new-tokens", "4", *extra)  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--llm-option", "bogus=1"], "bogus"),
        (["--llm-option", "dtype=fp64"], "unknown dtype"),
        (["--llm-option", "device=cuda:7"], "device 'cuda:7'"),
        (["--llm-option", "device=tpu9"], "device"),
        (["--prompt-tokenizer", "/no/such/tokenizer"], "/no/such/tokenizer"),
        (["--max-length", "0"], "max_length must be >= 1"),
        (["--batch-size", "0"], "batch_size must be >= 1"),
        (["--chunk-size", "-1"], "chunk_size must be >= 1"),
        (["--num-beams", "abc"], "expected an integer"),
    ],
)
def test_bad_llm_settings_are_one_line_and_leave_no_file(extra, message, t5_dir, tmp_path, capsys):
    code, err = run_main(feedback_cli.main, _hf_pool(t5_dir, tmp_path, *extra), capsys)
    assert one_line_error(code, err) and message in err, err
    assert not (tmp_path / "hf.jsonl").exists()


@pytest.mark.parametrize(
    ("option", "message"),
    [("max_concurrency=0", "max_concurrency"), ("timeout=abc", "timeout"),
     ("max_retries=-1", "max_retries"), ("timeout=0", "timeout")],
)  # fmt: skip
def test_bad_openai_options_are_refused_before_any_request(option, message, t5_dir, tmp_path,
                                                           capsys):  # fmt: skip
    argv = pool_args(
        SAMPLE,
        tmp_path / "o.jsonl",
        "--llm",
        "openai:http://127.0.0.1:9/v1#m",
        "--prompt-tokenizer",
        str(t5_dir),
        "--num-beams",
        "1",
        "--llm-option",
        option,
    )
    code, err = run_main(feedback_cli.main, argv, capsys)
    assert one_line_error(code, err) and message in err, err
    assert not (tmp_path / "o.jsonl").exists()


def test_the_openai_beam_search_refusal_comes_before_any_file(t5_dir, tmp_path, capsys):
    argv = pool_args(SAMPLE, tmp_path / "o.jsonl", "--llm", "openai:http://127.0.0.1:9/v1#m",
                     "--prompt-tokenizer", str(t5_dir), "--num-beams", "4")  # fmt: skip
    code, err = run_main(feedback_cli.main, argv, capsys)
    assert one_line_error(code, err) and "set num_beams=1" in err
    assert not (tmp_path / "o.jsonl").exists()
    # the fix the message suggests then runs (the server is down: a clean refusal, no file)
    argv[argv.index("4")] = "1"
    argv += ["--llm-option", "max_retries=0", "--llm-option", "timeout=1"]
    code, err = run_main(feedback_cli.main, argv, capsys)
    assert one_line_error(code, err) and "unreachable" in err
    assert not (tmp_path / "o.jsonl").exists()


def test_a_nan_profile_rating_does_not_crash_the_reader(tmp_path, capsys):
    from ropg.lamp import reader

    reader._WARNED.clear()
    data = copy_split(tmp_path)

    def nan_ratings(questions: list) -> None:
        for question in questions[:5]:
            for item in question["profile"]:
                item["score"] = float("nan")

    edit_json(questions_file(data), nan_ratings)
    out = tmp_path / "pool.jsonl"
    argv = pool_args(data, out, "--cache", str(tmp_path / "cache.sqlite"), limit=5)
    code, err = run_main(feedback_cli.main, argv, capsys)
    assert code == 0 and "not a finite number" in err  # skipped, and said so
    from ropg.feedback import read_feedback

    assert len(read_feedback(out)[1]) == 5


def _cache(tmp: Path) -> Any:
    from ropg.retrievers.embedding_cache import EmbeddingCache

    return EmbeddingCache(tmp, {"model": "m", "pooling": "mean"})


def test_a_corrupt_or_mis_sized_embedding_cache_is_one_line(tmp_path):
    cache = _cache(tmp_path)
    cache.put_many(["a", "b"], np.ones((2, 4), dtype=np.float32))
    path = cache.path
    cache.close()
    with sqlite3.connect(path) as con:  # a vector of the wrong size
        con.execute("UPDATE embeddings SET vector = ? WHERE rowid = 1", (b"\0" * 7,))
    with pytest.raises(UserError, match="not a readable embedding cache.*7 bytes"):
        _cache(tmp_path).get_many(["a", "b"])
    with sqlite3.connect(path) as con:
        con.execute("UPDATE meta SET value = 'x' WHERE name = 'dim'")
    with pytest.raises(UserError, match="not a readable embedding cache"):
        _cache(tmp_path)
    for name in os.listdir(tmp_path):
        (tmp_path / name).write_bytes(b"this is not a database" * 100)
    with pytest.raises(UserError, match="not a readable embedding cache"):
        _cache(tmp_path)


def test_cuda_on_a_machine_without_it_is_one_line(t5_dir):
    import torch

    from ropg.generation import GenerationError
    from ropg.generation.hf import HFGenerator

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")  # pragma: no cover
    with pytest.raises(GenerationError, match="CUDA is not available"):
        HFGenerator(str(t5_dir), device="cuda")


def test_a_broken_pipe_is_quiet(capsys):
    @user_errors_exit_2
    def main(argv: Sequence[str] | None = None) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    assert main([]) == 141 and "Traceback" not in capsys.readouterr().err


# -- item 12: messages keep their promise ---------------------------------------------------------
def test_recency_date_errors_name_the_file_the_record_and_the_field(tmp_path, capsys):
    data = copy_split(tmp_path)

    def bad_date(questions: list) -> None:
        next(q for q in questions if q["profile"])["profile"][0]["date"] = "a Tuesday"

    edit_json(questions_file(data), bad_date)
    rank = ["--data", str(data), "--task", "LaMP-3", "--retriever", "recency", "--out",
            str(tmp_path / "r.json"), "--no-progress"]  # fmt: skip
    for main, argv in ((rank_cli.main, rank),
                       (feedback_cli.main, pool_args(data, tmp_path / "f.jsonl", "--chunk-size",
                                                     "8", retrievers="recency"))):  # fmt: skip
        code, err = run_main(main, argv, capsys)
        assert one_line_error(code, err), err
        assert str(questions_file(data)) in err and "profile[0].date" in err and "Tuesday" in err


@pytest.mark.parametrize(
    ("gold", "message"),
    [("five", "is not a number"), ("9", "outside the 1-5 scale"), ("nan", "not a finite"),
     ("-1", "outside the 1-5 scale")],
)  # fmt: skip
def test_a_bad_gold_is_refused_at_load_naming_file_record_and_field(gold, message, tmp_path,
                                                                    capsys):  # fmt: skip
    data = copy_split(tmp_path)
    edit_json(outputs_file(data), lambda value: value["golds"][3].update(output=gold))
    with pytest.raises(DataError, match=message) as error:
        load_split(data, "LaMP-3", "dev")
    assert error.value.path == outputs_file(data) and error.value.index == 3
    assert error.value.field == "output" and error.value.record_id is not None
    code, err = run_main(feedback_cli.main, pool_args(data, tmp_path / "f.jsonl"), capsys)
    assert one_line_error(code, err) and "record 3" in err and "'output'" in err
    golds = str(outputs_file(data))
    code, err = run_main(eval_cli.main, ["--golds", golds, "--preds", golds], capsys)
    assert one_line_error(code, err) and message in err


def test_a_label_outside_the_task_is_warned_about(tmp_path, caplog):
    data = copy_split(tmp_path, "LaMP_2")
    edit_json(outputs_file(data, "LaMP_2"), lambda v: v["golds"][1].update(output="opera"))
    with caplog.at_level(logging.WARNING, logger="ropg.lamp.validation"):
        load_split(data, "LaMP-2", "dev")
    assert "opera" in caplog.text and "record 1" in caplog.text


def test_the_readers_advice_is_right_for_every_task():
    from ropg.generation import GenerationError
    from ropg.lamp.reader import ProfileReader, reader_tasks

    with pytest.raises(GenerationError) as error:
        ProfileReader().generate(["what would you answer?"])
    for task in reader_tasks():
        assert task in str(error.value)
    assert "task=LaMP-2'" not in str(error.value)  # no one task's name as the example
    for task in reader_tasks():  # and the advice works: the option names the task
        assert ProfileReader(task=task).generate(["what would you answer?"])


def test_every_json_written_is_valid_json(tmp_path):
    with pytest.raises(UserError, match=r"metrics\.MAE"):
        atomic_write_json(tmp_path / "m.json", {"metrics": {"MAE": float("nan")}})
    with pytest.raises(UserError, match=r"candidates\[1\]\.score"):
        dumps_record({"id": "1", "candidates": [{"score": 1.0}, {"score": float("inf")}]})
    assert not list(tmp_path.iterdir())
    atomic_write_json(tmp_path / "ok.json", {"a": [1.5, "é"]})
    assert json.loads((tmp_path / "ok.json").read_text(encoding="utf-8")) == {"a": [1.5, "é"]}


def test_zero_and_negative_limits_are_refused(capsys):
    for value in ("0", "-3"):
        code, err = run_main(feedback_cli.main, pool_args(SAMPLE, "x.jsonl", limit=int(value)),
                             capsys)  # fmt: skip
        assert one_line_error(code, err) and "limit must be >= 1" in err
