"""RPO's artifacts end to end with stub models: g, rankings, trajectories and reflections,
their resumption (nothing finished is generated again) and the two commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from reflection_fixtures import write_tag_data

from ropg.cli.reflect import main as reflect_main
from ropg.cli.rpo_train import main as rpo_train_main
from ropg.cli.rpo_train import trajectories_main
from ropg.lamp import Example, LampSplit, get_task, load_split
from ropg.lamp.synthetic import sample_path
from ropg.reflection import (
    NO_REFLECTION,
    LLMSettings,
    Reflector,
    StandInTeacher,
    TrajectoryFilter,
    build_trajectories,
    generate_generic,
    grid_values,
    load_rankings,
    make_llm,
    rankings_source,
    read_generic,
    reflect,
    reflect_split,
    reflection_grid,
    retrieve_contexts,
    retriever_source,
)

BASE = "reflection_fixtures:GenericTagger"
SCRIPTED = "reflection_fixtures:ScriptedReflector"


@pytest.fixture(scope="module")
def tag_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tag_data(tmp_path_factory.mktemp("tags"), {"train": (8, 2), "dev": (16, 1)})


def scripted(cache: Path, **options: Any):
    generation = {"num_beams": 1, "batch_size": 4}
    return make_llm(LLMSettings(SCRIPTED, options=options, generation=generation, cache=cache))


def prepared(tag_data: Path, tmp_path: Path):
    split = load_split(tag_data, "LaMP-2", "dev")
    base = make_llm(LLMSettings(BASE, cache=tmp_path / "cache.sqlite"))
    facts = generate_generic(split, base, tmp_path / "generic.jsonl")
    generics = read_generic(tmp_path / "generic.jsonl")
    retrieve_contexts(split, generics, retriever_source("bm25"), 6, tmp_path / "rankings.json")
    return split, generics, load_rankings(tmp_path / "rankings.json"), facts


def test_a_killed_reflection_run_regenerates_nothing_that_finished(tag_data, tmp_path) -> None:
    split, generics, rankings, _ = prepared(tag_data, tmp_path)
    cache, out = tmp_path / "cache.sqlite", tmp_path / "run" / "reflections.jsonl"
    crashing = scripted(cache, fail_after=12)  # chunk 1 (8) is written, chunk 2 dies mid-way
    with pytest.raises(RuntimeError, match="simulated crash"):
        reflect_split(split, generics, rankings, Reflector(crashing), out, k=4, chunk_size=8)
    assert len(out.read_text().splitlines()) == 1 + 8  # header + the finished chunk
    resumed = scripted(cache)
    facts = reflect_split(split, generics, rankings, Reflector(resumed), out, k=4, chunk_size=8)
    backend = resumed.generator.generator
    assert len(backend.prompts) == 4 == facts["generated"]  # 16 - 8 written - 4 cached
    assert facts["examples"] == 16
    fresh_out = tmp_path / "fresh" / "reflections.jsonl"
    fresh = scripted(tmp_path / "fresh.sqlite")
    reflect_split(split, generics, rankings, Reflector(fresh), fresh_out, k=4, chunk_size=8)
    assert out.read_bytes() == fresh_out.read_bytes()  # the same file as an uninterrupted run
    again = scripted(cache)
    assert reflect_split(split, generics, rankings, Reflector(again), out, k=4)["generated"] == 0
    predictions = json.loads(out.with_suffix(".predictions.json").read_text())
    assert predictions["task"] == "LaMP_2" and len(predictions["golds"]) == 16


def test_reflections_record_g_the_items_the_reasoning_and_beat_g(tag_data, tmp_path) -> None:
    split, generics, rankings, generic_facts = prepared(tag_data, tmp_path)
    out = tmp_path / "reflections.jsonl"
    facts = reflect_split(split, generics, rankings, Reflector(scripted(tmp_path / "c")), out, k=2)
    first = json.loads(out.read_text().splitlines()[1])
    example = split.examples[0]
    assert first["generic"] == generics[example.id] and first["query"] == "input+generic"
    assert first["items"] == [str(example.profile[i]["id"]) for i in rankings[example.id][:2]]
    assert first["reasoning"].startswith("[1] ") and first["fallback"] is None
    assert facts["fallbacks"]["fallbacks"] == 0
    assert facts["metrics"]["accuracy"] > facts["generic_metrics"]["accuracy"] + 0.3
    assert generic_facts["metrics"] == facts["generic_metrics"]
    report = json.loads(out.with_suffix(".report.json").read_text())
    assert report["metrics"] == facts["metrics"]


def test_precomputed_rankings_are_a_context_source_like_a_retriever(tag_data, tmp_path) -> None:
    split, generics, _, _ = prepared(tag_data, tmp_path)
    last_first = {e.id: list(range(len(e.profile)))[::-1] for e in split}
    reflector = Reflector(scripted(tmp_path / "c"))
    fixed = reflect(split.task, split.examples, reflector, generics=generics, k=1,
                    source=rankings_source(last_first, name="rspg"))  # fmt: skip
    assert [r.items for r in fixed] == [(len(e.profile) - 1,) for e in split]
    none = reflect(split.task, split.examples[:2], reflector, generics=generics, k=3,
                   source=retriever_source("none"))  # fmt: skip
    assert [r.items for r in none] == [(), ()] and none[0].answer == generics[none[0].id]
    base = make_llm(LLMSettings(BASE, cache=tmp_path / "c"))
    chained = reflect("LaMP-2", split.examples[:3], reflector, base=base, k=2,
                      source=retriever_source("bm25"))  # fmt: skip
    assert [r.generic for r in chained] == [generics[e.id] for e in split.examples[:3]]


def test_the_grid_crosses_context_sources_with_reflection_columns(tag_data, tmp_path) -> None:
    split, generics, rankings, generic_facts = prepared(tag_data, tmp_path)
    rows = {
        "none": {e.id: [] for e in split},
        "bm25": rankings,
        "last items": {e.id: list(range(len(e.profile)))[::-1] for e in split},
    }
    base = make_llm(LLMSettings(BASE, cache=tmp_path / "cache.sqlite"))
    columns = {
        "RPO w/o RL": Reflector(scripted(tmp_path / "c")),
        "RPO": Reflector(scripted(tmp_path / "c")),
    }
    grid = reflection_grid(split, generics, rows, base, columns, tmp_path / "grid", k=2)
    values = grid_values(grid, "accuracy")
    assert list(values) == list(rows)
    assert all(list(cells) == [NO_REFLECTION, "RPO w/o RL", "RPO"] for cells in values.values())
    g = generic_facts["metrics"]["accuracy"]
    assert values["none"][NO_REFLECTION] == g == values["none"]["RPO"]  # no items: g itself
    assert values["bm25"]["RPO"] > values["last items"]["RPO"] > 0
    assert (tmp_path / "grid" / "last-items" / "RPO-w-o-RL.predictions.json").is_file()
    assert grid["bm25"]["RPO"]["fallbacks"]["fallbacks"] == 0


class ScriptedTeacher:
    """Returns the trajectory text listed for each question id."""

    identity = {"teacher": "scripted"}

    def __init__(self, texts: dict[str, str]) -> None:
        self.texts = texts

    def teach(self, requests):
        return [self.texts[request.example.id] for request in requests]


def blocks(rewrite: str, evidence: str = "[1]") -> str:
    return f"<evidence>{evidence}</evidence><edits>change</edits><rewrite>{rewrite}</rewrite>"


def test_the_trajectory_filter_keeps_and_drops_with_counted_reasons(tmp_path) -> None:
    gold = "the quick brown fox jumps over the lazy dog today"
    cases = {
        "kept": blocks("a quick fox jumps"),
        "malformed": "<evidence>x</evidence><rewrite>a fox</rewrite>",
        "empty_rewrite": blocks(" "),
        "too_long": blocks("word " * 20),
        "worse_than_generic": blocks("nothing shared"),
        "copies_gold": blocks(gold),
        "copies_gold_inside": blocks(f"{gold} indeed"),
    }
    profile = [{"id": "p1", "title": "fox", "text": "quick fox"}]
    examples = [
        Example(id=name, input=f"Generate a headline for the following article: {name}",
                profile=profile, gold=gold)
        for name in cases
    ]  # fmt: skip
    split = LampSplit(get_task("LaMP-4"), "train", examples)
    generics = {name: "quick brown" for name in cases}
    rankings = {name: [0] for name in cases}
    rules = TrajectoryFilter(copy_min_words=8, max_answer_words=12)
    path = tmp_path / "trajectories.jsonl"
    facts = build_trajectories(split, generics, rankings, ScriptedTeacher(cases), path, rules=rules)
    assert facts["kept"] == 1
    assert facts["dropped"] == {
        "malformed": 1,
        "empty_rewrite": 1,
        "too_long": 1,
        "worse_than_generic": 1,
        "copies_gold": 2,
    }
    records = {
        json.loads(line)["id"]: json.loads(line) for line in path.read_text().splitlines()[1:]
    }
    kept = records["kept"]
    assert kept["kept"] and "<answer>\na quick fox jumps\n</answer>" in kept["completion"]
    assert "Evidence: [1]" in kept["completion"] and "[1] text: quick fox" in kept["prompt"]
    loose = TrajectoryFilter(require_not_worse=False, copy_min_words=0, max_answer_words=12)
    facts = build_trajectories(
        split, generics, rankings, ScriptedTeacher(cases), tmp_path / "loose.jsonl", rules=loose
    )
    assert facts["kept"] == 4  # kept, worse_than_generic and both copies


@pytest.mark.parametrize("task", ["LaMP-2", "LaMP-3", "LaMP-5", "LaMP-7"])
def test_stand_in_trajectories_are_well_formed_and_never_worse_than_g(task, tmp_path) -> None:
    split = load_split(sample_path(), task, "train").head(24)
    generics = {e.id: str(e.profile[-1].get("tag", e.profile[-1].get("score", "a")))
                if e.profile else "a" for e in split}  # fmt: skip
    rankings = {e.id: list(range(min(2, len(e.profile)))) for e in split}
    path = tmp_path / "trajectories.jsonl"
    facts = build_trajectories(split, generics, rankings, StandInTeacher(), path, items=2)
    assert facts["examples"] == 24
    assert set(facts["dropped"]) <= {"copies_gold", "invalid_answer"}, facts
    assert facts["kept"] >= 12


def test_the_commands_run_the_trajectory_stage_and_reflect_resumably(tag_data, tmp_path, capsys):
    config = tmp_path / "rpo.yaml"
    common = {"task": "LaMP-2", "data": str(tag_data), "output_dir": str(tmp_path / "run"),
              "cache": str(tmp_path / "cache.sqlite"), "base_model": BASE, "retriever": "bm25"}  # fmt: skip
    config.write_text(
        json.dumps(
            {
                "common": common,
                "trajectories": {"teacher": "stand-in", "rank_depth": 4},
                "reflect": {"reflection_model": SCRIPTED, "top_k": 3, "split": "dev"},
            }
        ),
        encoding="utf-8",
    )
    assert trajectories_main(["--config", str(config), "-q"]) == 0
    report = json.loads((tmp_path / "run/train/trajectories.report.json").read_text())
    assert report["examples"] == 16 and report["kept"] >= 8
    rankings = json.loads((tmp_path / "run/train/rankings.json").read_text())["rankings"]
    assert all(len(indices) == 4 for indices in rankings.values())
    assert reflect_main(["--config", str(config), "-q"]) == 0
    output = capsys.readouterr().out
    assert "16/16 reflections used" in output and "reflection:" in output
    out = tmp_path / "run/reflect/dev"
    assert json.loads((out / "reflections.report.json").read_text())["generated"] == 16
    assert reflect_main(["--config", str(config), "-q"]) == 0  # all done: nothing generated
    assert json.loads((out / "reflections.report.json").read_text())["generated"] == 0
    bad = reflect_main(["--config", str(config), "--query", "everything", "-q"])
    assert bad == 2 and "query must be one of" in capsys.readouterr().err
    assert rpo_train_main(["--stage", "rl", "--config", str(config), "--curriculum", "x"]) == 2
