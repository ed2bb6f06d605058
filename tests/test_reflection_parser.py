"""RPO's reading and writing of reflections: answer formats, the parser and its fallbacks, the
prompt, the curriculum schedule and the sectioned configs."""

from __future__ import annotations

import pytest

from ropg.errors import UserError
from ropg.lamp import get_task
from ropg.reflection import (
    FallbackCounts,
    ParseSettings,
    ReflectConfig,
    ReflectionFormat,
    RpoRlSettings,
    RpoSftSettings,
    answer_format,
    count_items,
    k_per_step,
    parse_curriculum,
    parse_reflection,
)
from ropg.reflection.curriculum import curriculum_plan

LAMP2 = get_task("LaMP-2")
SETTINGS = ParseSettings(max_answer_words=5)


def parse(text: str, task: str = "LaMP-2", settings: ParseSettings = SETTINGS):
    return parse_reflection(text, "GENERIC", answer_format(get_task(task)), settings)


def test_a_well_formed_reflection_gives_exactly_the_tagged_answer() -> None:
    result = parse("<reasoning>\n[1] is tagged comedy\n</reasoning>\n<answer>\ncomedy\n</answer>")
    assert (result.answer, result.reasoning, result.fallback) == (
        "comedy",
        "[1] is tagged comedy",
        None,
    )
    text = "<reasoning>r</reasoning> <answer>a headline, with commas</answer> trailing words"
    assert parse(text, "LaMP-4").answer == "a headline, with commas"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("  \n ", "empty"),
        ("comedy", "no_answer_tag"),
        ("<reasoning>it is a comedy</reasoning>", "no_answer_tag"),
        ("<answer>comedy</answer> <answer>action</answer>", "multiple_answers"),
        ("<reasoning>x</reasoning><answer>comedy and then the model ran out", "unclosed_answer"),
        ("<answer>   </answer>", "empty_answer"),
        ("<answer>a comedy about six very long words</answer>", "too_long"),
        ("<answer>banana</answer>", "invalid_answer"),
    ],
)
def test_unusable_reflections_fall_back_to_g_with_their_reason(text: str, reason: str) -> None:
    result = parse(text)
    assert (result.answer, result.fallback) == ("GENERIC", reason)


def test_answers_are_written_in_the_tasks_format() -> None:
    assert parse("<answer>Comedy.</answer>").answer == "comedy"
    assert parse('<answer>"sci-fi"</answer>').answer == "sci-fi"
    assert parse("<answer>1</answer>", "LaMP-1").answer == "[1]"
    assert parse("<answer>4 stars</answer>", "LaMP-3").answer == "4"
    assert parse("<answer>3.5</answer>", "LaMP-3").answer == "3.5"
    assert parse("<answer>9</answer>", "LaMP-3").fallback == "invalid_answer"
    assert parse("<answer>great</answer>", "LaMP-3").fallback == "invalid_answer"
    assert parse("<answer> 'a title' </answer>", "LaMP-5").answer == "a title"


def test_tag_names_and_the_reasoning_requirement_are_settings() -> None:
    strict = ParseSettings(reasoning_tag="thinkation", answer_tag="final", require_reasoning=True)
    good = parse("<thinkation>why</thinkation><final>action</final>", settings=strict)
    assert (good.answer, good.reasoning) == ("action", "why")
    assert parse("<final>action</final>", settings=strict).fallback == "no_reasoning"
    assert parse("<answer>action</answer>", settings=strict).fallback == "no_answer_tag"
    assert parse("< ANSWER >action</ answer >").answer == "action"


def test_fallbacks_are_counted_per_reason() -> None:
    reasons = [parse(text).fallback for text in ("", "x", "<answer>comedy</answer>", "y")]
    counts = FallbackCounts(reasons)
    assert counts.to_dict() == {
        "reflections": 4,
        "used": 1,
        "fallbacks": 3,
        "by_reason": {"empty": 1, "no_answer_tag": 2},
    }
    assert "1/4 reflections used" in counts.format()


def test_the_prompt_shows_g_the_input_and_the_items_with_the_tasks_fields() -> None:
    fmt = ReflectionFormat(field_max_words=3)
    items = [
        {"id": "1", "description": "a robot in space with a dog", "tag": "sci-fi"},
        {"id": "2", "description": "two friends", "tag": "comedy"},
    ]
    prompt = fmt.prompt(LAMP2, "description: a film", "action", items)
    assert (
        "[1] description: a robot in ... | tag: sci-fi\n[2] description: two friends | tag: comedy"
        in prompt
    )
    assert "Generic answer: action" in prompt and "Input: description: a film" in prompt
    assert "<reasoning>" in prompt and "</answer>" in prompt
    assert count_items(prompt) == 2
    assert count_items(fmt.prompt(LAMP2, "x", "y", [])) == 0
    review = fmt.prompt(get_task("LaMP-3"), "x", "4", [{"id": "1", "text": "fine", "score": "5"}])
    assert "[1] text: fine | score: 5" in review
    own = ReflectionFormat(item_fields=("tag",), template="{items} / {generic} / {answer_hint}")
    assert own.prompt(LAMP2, "x", "g", items).startswith("[1] tag: sci-fi\n[2] tag: comedy / g / ")
    with pytest.raises(UserError, match="placeholder"):
        ReflectionFormat(template="{nope}").prompt(LAMP2, "x", "g", items)


def test_the_curriculum_splits_the_steps_into_equal_stages() -> None:
    assert parse_curriculum(["linear:2:6"]) == [2, 3, 4, 5, 6]
    assert parse_curriculum("2,4,6") == [2, 4, 6]
    assert parse_curriculum(["4"]) == [4]
    assert k_per_step([2, 3, 4, 5, 6], 10) == [2, 2, 3, 3, 4, 4, 5, 5, 6, 6]
    assert k_per_step([2, 4, 6], 7) == [2, 2, 2, 4, 4, 6, 6]
    assert k_per_step([4], 5) == [4] * 5
    for bad in (["0"], ["two"], [], ["linear:2"]):
        with pytest.raises(UserError):
            parse_curriculum(bad)
    plan = curriculum_plan(n_prompts=5, epochs=2, prompts_per_step=3, curriculum=[2, 6], seed=0)
    assert [step for step, _, _ in plan] == [0, 0, 0, 1, 1, 1, 2, 2, 2]  # 10 visits: 3 steps
    assert [k for _, _, k in plan] == [2, 2, 2, 2, 2, 2, 6, 6, 6]
    first_epoch = [index for _, index, _ in plan[:5]]
    assert sorted(first_epoch) == [0, 1, 2, 3, 4]  # every prompt once per epoch


def test_a_sectioned_config_gives_each_stage_the_common_and_its_own_settings(tmp_path) -> None:
    path = tmp_path / "rpo.yaml"
    path.write_text(
        "common: {task: LaMP-2, data: sample, output_dir: run, answer_tag: final, model: m}\n"
        "sft: {lr: 1.0e-4}\n"
        "rl: {curriculum: [2, 4], beta: 0.1}\n"
        "reflect: {reflection_model: 'hf:run/rl/model', base_model: 'hf:b', top_k: 4}\n",
        encoding="utf-8",
    )
    sft = RpoSftSettings.load(path)
    rl = RpoRlSettings.load(path, {"beta": "0.2"})
    reflect = ReflectConfig.load(path)
    assert (sft.lr, sft.answer_tag, sft.model) == (1e-4, "final", "m")
    assert (rl.curriculum, rl.beta, rl.task, rl.lr) == (["2", "4"], 0.2, "LaMP-2", 1e-6)
    assert (reflect.top_k, reflect.answer_tag, reflect.query) == (4, "final", "input+generic")
    assert RpoSftSettings.load(None, {"model": "m", "output_dir": "o"}).lr == 5e-6  # reported
    path.write_text("common: {task: LaMP-2, no_such_setting: 1}\n", encoding="utf-8")
    with pytest.raises(UserError, match="no_such_setting"):
        RpoSftSettings.load(path)
    with pytest.raises(UserError, match="query"):
        ReflectConfig.load(
            None,
            {"task": "LaMP-2", "data": "d", "base_model": "b", "reflection_model": "r"}
            | {"output_dir": "o", "query": "everything"},
        )
    from ropg.cli.config_flags import parse_config
    from ropg.cli.reflect import build_parser

    path.write_text("common: {task: LaMP-2, data: d, output_dir: o, base_model: b}\n"
                    "reflect: {reflection_model: r, base_options: {dtype: fp32}}\n")  # fmt: skip
    argv = ["--config", str(path), "--base-options", "dtype=bf16", "--top-k", "2", "-q"]
    flags, _, _ = parse_config(build_parser(), argv, ReflectConfig)
    assert (flags.base_options, flags.top_k, flags.reflection_model) == ({"dtype": "bf16"}, 2, "r")
