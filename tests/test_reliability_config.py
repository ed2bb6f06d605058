"""Configuration never runs code it was not meant to, nor work on stale or partial data
(issue 17, items 4, 5, 6, 8 and 9).

4. ``--output-dir`` refuses a non-empty directory that is not a ropg run unless ``--overwrite``.
5. A ``module:attr`` plug-in path is checked to be a retriever / generator / family class (or a
   marked factory) before anything of it is called, from the command line and from a YAML.
6. A feedback file names the data by digest: after golds or profiles change, it is not resumed.
8. Every reader of a finished file refuses one with fewer records than its header announces.
9. Every setting of a benchmark config is type- and range-checked when the config loads.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
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

from ropg.benchmark import BenchmarkConfig
from ropg.cli import benchmark as benchmark_cli
from ropg.cli import feedback as feedback_cli
from ropg.cli import rank as rank_cli
from ropg.cli import rspg_train as rspg_cli
from ropg.cli import train as train_cli
from ropg.errors import DataError, UserError
from ropg.feedback import (
    FeedbackRun,
    PoolPlanner,
    PromptBuilder,
    collect_feedback,
    feedback_by_id,
    read_feedback,
)
from ropg.feedback.collect import feedback_header
from ropg.generation import GenerationError, get_generator
from ropg.generation.endpoint import EndpointConfig, LLMEndpoint
from ropg.lamp import load_split
from ropg.retrievers import get_retriever
from ropg.retrievers.bm25 import BM25Retriever
from ropg.utils.plugins import plugin_factory

QUICKSTART = Path(__file__).resolve().parents[1] / "benchmarks" / "configs" / "quickstart.yaml"
CALLED: list[str] = []


def not_a_retriever(**options) -> object:
    """An importable callable that is no retriever: it must never be called."""
    CALLED.append("not_a_retriever")
    return BM25Retriever()


@plugin_factory("retriever")
def marked_retriever(**options) -> BM25Retriever:
    """A factory marked as a retriever plug-in: accepted."""
    return BM25Retriever(**options)


class NoRank:
    """A class without ``rank``/``rank_batch``: refused before it is built."""

    def __init__(self, **options) -> None:
        CALLED.append("NoRank")


# -- item 4 ------------------------------------------------------------------------------------
def test_output_dir_naming_the_model_folder_is_refused_and_its_weights_kept(tmp_path, capsys):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"model_type": "bert"}', encoding="utf-8")
    (model / "model.safetensors").write_bytes(b"the user's weights")
    before = snapshot(model)
    argv = ["--task", "LaMP-3", "--method", "kd", "--model", str(model), "--train-feedback",
            str(tmp_path / "f.jsonl"), "--output-dir", str(model)]  # fmt: skip
    code, err = run_main(train_cli.main, argv, capsys)
    assert one_line_error(code, err) and "not a ropg training run" in err and "--overwrite" in err
    assert snapshot(model) == before
    from ropg.training.checkpoints import check_run_dir

    check_run_dir(model, overwrite=True)  # asked for: allowed
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "train_config.yaml").write_text("epochs: 1\n", encoding="utf-8")
    check_run_dir(tmp_path / "run", overwrite=False)  # a ropg run: the run's own checks decide
    check_run_dir(tmp_path / "new", overwrite=False)  # new: fine


# -- item 5 ------------------------------------------------------------------------------------
PWNED = "pwned"


@pytest.mark.parametrize(
    "argv",
    [
        ["--retriever", "os:system", "--retriever-option", f"command=touch {PWNED}"],
        ["--retriever", "subprocess:call", "--retriever-option", f"args=[touch, {PWNED}]"],
        ["--retriever", f"{__name__}:not_a_retriever"],
        ["--retriever", f"{__name__}:NoRank"],
    ],
)
def test_a_retriever_path_is_checked_before_anything_is_called(argv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    CALLED.clear()
    rank = ["--data", str(SAMPLE), "--task", "LaMP-3", "--out", "r.json", "--no-progress"]
    code, err = run_main(rank_cli.main, [*rank, *argv], capsys)
    assert one_line_error(code, err) and "is not a retriever" in err
    candidates = ["candidates", "--data", str(SAMPLE), "--task", "LaMP-3", "--split", "dev",
                  "--llm", "reader:profile", "--out", "f.jsonl", *argv]  # fmt: skip
    code, err = run_main(feedback_cli.main, candidates, capsys)
    assert one_line_error(code, err) and "is not a retriever" in err
    assert not (tmp_path / PWNED).exists() and CALLED == []
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_marked_factory_and_retriever_classes_are_accepted():
    assert isinstance(get_retriever(f"{__name__}:marked_retriever"), BM25Retriever)
    assert isinstance(get_retriever("ropg.retrievers.bm25:BM25Retriever"), BM25Retriever)


@pytest.mark.parametrize("spec", ["os:system", "os:system:touch pwned", f"{__name__}:NoRank"])
def test_a_generator_path_is_checked_before_anything_is_called(spec, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    CALLED.clear()
    with pytest.raises(GenerationError, match="is not a generator"):
        get_generator(spec, command=f"touch {PWNED}")
    code, err = run_main(feedback_cli.main, pool_args(SAMPLE, "f.jsonl", "--llm", spec), capsys)
    assert one_line_error(code, err) and "is not a generator" in err
    assert not (tmp_path / PWNED).exists() and CALLED == [] and not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"retrievers": {"x": {"retriever": "os:system", "options": {"command": "touch pwned"}}}},
         "is not a retriever"),
        ({"retrievers": {"rrf": {"retriever": "rrf", "options": {"retrievers": ["os:system"]}}}},
         "is not a retriever"),
        ({"llms": [{"name": "x", "spec": "os:system:touch pwned"}]}, "is not a generator"),
        ({"families": ["baselines", "os:system"]}, "is not a method family"),
    ],
)  # fmt: skip
def test_plugin_paths_in_a_shared_yaml_are_refused_when_it_loads(
    change, message, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    values = yaml.safe_load(QUICKSTART.read_text(encoding="utf-8"))
    for key, value in change.items():
        values[key] = {**values[key], **value} if key == "retrievers" else value
    config = tmp_path / "shared.yaml"
    config.write_text(yaml.safe_dump(values), encoding="utf-8")
    code, err = run_main(benchmark_cli.main, ["--config", str(config), "--print-config"], capsys)
    assert one_line_error(code, err) and message in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shared.yaml"]


# -- item 6 ------------------------------------------------------------------------------------
def _first_with_profile(questions: list) -> dict:
    return next(question for question in questions if question["profile"])


@pytest.mark.parametrize(
    ("which", "change"),
    [
        ("outputs", lambda golds: golds["golds"][0].update(output="1")),
        ("questions", lambda questions: _first_with_profile(questions)["profile"].pop()),
    ],
)
def test_a_feedback_file_is_not_resumed_after_its_data_changed(which, change, tmp_path, capsys):
    data = copy_split(tmp_path)
    out = tmp_path / "pool.jsonl"
    assert run_main(feedback_cli.main, pool_args(data, out, limit=40), capsys)[0] == 0
    header, _ = read_feedback(out)
    assert set(header["data"]) == {"questions", "outputs"}
    assert run_main(feedback_cli.main, pool_args(data, out, limit=40), capsys)[0] == 0  # same
    before = out.read_bytes()
    edit_json((outputs_file if which == "outputs" else questions_file)(data), change)
    code, err = run_main(feedback_cli.main, pool_args(data, out, limit=40), capsys)
    assert one_line_error(code, err) and "different settings" in err
    assert out.read_bytes() == before


def test_the_benchmark_starts_a_stale_feedback_file_over(tmp_path):
    data = copy_split(tmp_path)
    out = tmp_path / "pool.jsonl"
    run = FeedbackRun(show_progress=False, restart_on_mismatch=True)
    llm = LLMEndpoint(EndpointConfig("reader:profile", generation={"num_beams": 1}))

    def collect() -> dict:
        split = load_split(data, "LaMP-3", "dev").head(5)
        planner = PoolPlanner({"bm25": get_retriever("bm25")}, PromptBuilder(
            split.task, llm.prompt_tokenizer, 256), k=2)  # fmt: skip
        collect_feedback(split, planner, llm, out, feedback_header(split, llm), run)
        return feedback_by_id(out, split.ids)[1]

    old = collect()
    golds = json.loads(outputs_file(data).read_text(encoding="utf-8"))["golds"]
    flipped = "1" if golds[0]["output"] != "1" else "5"
    edit_json(outputs_file(data), lambda value: value["golds"][0].update(output=flipped))
    new = collect()
    first = golds[0]["id"]
    assert old[first]["gold"] != flipped and new[first]["gold"] == flipped


# -- item 8 ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pool_dev(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pool") / "dev.jsonl"
    assert feedback_cli.main(pool_args(SAMPLE, out, limit=39)) == 0
    return out


def _partial(path: Path, keep: int) -> Path:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    partial = path.with_name(f"partial{keep}.jsonl")
    partial.write_text("".join(lines[: keep + 1]), encoding="utf-8")
    return partial


def test_analyze_only_refuses_a_partial_pool_file(pool_dev, tmp_path, capsys):
    partial = _partial(pool_dev, 4)
    argv = ["--analyze-only", "--task", "LaMP-3", "--train-feedback", str(pool_dev),
            "--dev-feedback", str(partial), "--output-dir", str(tmp_path / "report")]  # fmt: skip
    code, err = run_main(rspg_cli.main, argv, capsys)
    assert one_line_error(code, err) and "holds 4 record(s)" in err and "announces 39" in err
    assert not (tmp_path / "report" / "analysis.md").exists()


def test_every_reader_of_a_finished_file_refuses_a_partial_one(pool_dev):
    from ropg.benchmark.stages.common import pool_outputs
    from ropg.selection import load_pool_records

    partial = _partial(pool_dev, 4)
    ids = load_split(SAMPLE, "LaMP-3", "dev").ids
    readers = [
        lambda: read_feedback(partial),
        lambda: feedback_by_id(partial, ids),
        lambda: load_pool_records(partial, task="LaMP-3"),
        lambda: pool_outputs(partial, "bm25", ids),
    ]
    for reader in readers:
        with pytest.raises(DataError, match="holds 4 record"):
            reader()
    torn = partial.with_name("torn.jsonl")
    torn.write_bytes(pool_dev.read_bytes()[:-5])
    with pytest.raises(DataError, match="partial line"):
        read_feedback(torn)
    assert len(read_feedback(partial, complete=False)[1]) == 4  # a resuming writer's view


def test_a_shard_file_holds_its_shards_examples(tmp_path, capsys):
    out = tmp_path / "sharded.jsonl"
    argv = pool_args(SAMPLE, out, "--shard", "1/3", limit=10)
    assert run_main(feedback_cli.main, argv, capsys)[0] == 0
    shard = tmp_path / "sharded.jsonl.shard1of3"
    header, records = read_feedback(shard)  # complete: examples 1, 4, 7 of the 10
    assert header["shard"] == [1, 3] and len(records) == 3
    with pytest.raises(DataError, match="holds 2 record"):
        read_feedback(_partial(shard, 2))


# -- item 9 ------------------------------------------------------------------------------------
BAD_SETTINGS = [
    ("k=abc", "setting k: expected an integer"),
    ("k=4.5", "setting k: expected an integer"),
    ("k=0", "k must be >= 1"),
    ("limit=ten", "setting limit: expected an integer"),
    ("limit=-1", "limit must be >= 1"),
    ("alpha=high", "setting alpha: expected a number"),
    ("alpha=2", "alpha must be in (0, 1)"),
    ("seed=abc", "setting seed: expected an integer"),
    ("candidates=1", "candidates must be >= 2"),
    ("offline=maybe", "setting offline: expected true or false"),
    ("name=..", "must be a plain name"),
    ("name=a/b", "must be a plain name"),
    ("eval_split=valid", "eval_split must be one of"),
    ("aggregate=median", "aggregate must be one of"),
    ("colour=blue", "unknown config setting 'colour'"),
    ("llms.0.max_length=0", "max_length must be >= 1"),
    ("llms.0.max_length=long", "setting max_length: expected an integer"),
    ("llms.0.generation.num_beams=abc", "num_beams: expected an integer"),
    ("llms.0.generation.num_beams=0", "num_beams must be >= 1"),
    ("llms.0.generation.top_p=5", "top_p must be in (0, 1]"),
    ("llms.0.generation.beams=4", "unknown generation config keys: beams"),
    ("llms.0.smoke=sometimes", "setting smoke: expected true or false"),
    ("retrievers.bm25.use_date=maybe", "setting use_date: expected true or false"),
    ("retrievers.bm25.retriever=nope", "unknown retriever 'nope'"),
    ("ropg.overrides.epoch=3", "unknown ropg.overrides setting 'epoch' (did you mean 'epochs'?)"),
    ("ropg.overrides.epochs=many", "ropg.overrides setting epochs: expected an integer"),
    ("ropg.overrides.epochs=0", "ropg.overrides: epochs must be >= 1"),
    ("ropg.overrides.lr=-1", "ropg.overrides: lr must be > 0"),
    ("ropg.rerank=abc", "ropg setting rerank: expected an integer"),
    ("ropg.use_date=perhaps", "ropg setting use_date: expected true or false"),
    ("ropg.configs.kd=missing.yaml", "settings file"),
    ("rspg.overrides.lr=fast", "rspg.overrides setting lr: expected a number"),
    ("rspg.overrides.sigma_x=2", "rspg.overrides: sigma_x must be in (0, 1]"),
    ("rspg.overrides.modle=x", "unknown rspg.overrides setting 'modle'"),
    ("rspg.table5=later", "rspg setting table5: expected true or false"),
]


@pytest.mark.parametrize(("override", "message"), BAD_SETTINGS)
def test_every_setting_is_checked_when_the_config_loads(override, message, tmp_path, capsys):
    argv = ["--config", str(QUICKSTART), f"output_root={tmp_path}", override]
    code, err = run_main(benchmark_cli.main, [*argv, "--stages", "rank", "--no-progress"], capsys)
    assert one_line_error(code, err) and message in err, err
    assert list(tmp_path.iterdir()) == []  # refused before any unit ran


def test_a_settings_file_named_by_a_section_is_checked_when_the_config_loads(tmp_path):
    (tmp_path / "kd.yaml").write_text("method: kd\nepoch: 3\n", encoding="utf-8")
    values = yaml.safe_load(QUICKSTART.read_text(encoding="utf-8"))
    values["ropg"]["configs"] = {"kd": "kd.yaml"}
    with pytest.raises(UserError, match=r"unknown ropg.configs.kd .*kd.yaml.* setting 'epoch'"):
        BenchmarkConfig.from_dict(values, base_dir=tmp_path)


def test_good_settings_load_and_overrides_go_anywhere_on_the_line(capsys):
    argv = ["--config", str(QUICKSTART), "--stages", "rank", "k=3", "--print-config",
            "ropg.overrides.epochs=2", "llms.0.generation.num_beams=2"]  # fmt: skip
    assert benchmark_cli.main(argv) == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["k"] == 3 and printed["ropg"]["overrides"]["epochs"] == 2
    assert printed["llms"][0]["generation"]["num_beams"] == 2
