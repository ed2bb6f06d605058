"""Queries, documents and prompts of every task, pinned to the LaMP reference's strings."""

from __future__ import annotations

import pytest
from lamp_inputs import INPUTS, QUERIES, profile_items

from ropg.lamp import LampError, get_task, task_names
from ropg.lamp.queries import citation_query, strings_between_quotes

ALL_TASKS = ["LaMP-1", "LaMP-2", "LaMP-2-old", "LaMP-3", "LaMP-4", "LaMP-5", "LaMP-6", "LaMP-7"]

# --- an independent transcription of the reference algorithm (the test oracle) -------------
# Per task: (per-item string, text field, overhead-template or fixed int, reserved text,
# subtract-one, assembly). Mirrors LaMP/prompts/prompts.py call for call.
ORACLE = {
    "LaMP-1": (lambda p, t: f'"{t}"', "title", 2, None, False, None),
    "LaMP-2": (
        lambda p, t: f'the tag for the movie: "{t}" is "{p["tag"]}" ',
        "description",
        lambda p: f'the tag for the movie: " " is "{p["tag"]}" ',
        None,
        True,
        "{j}. {i}",
    ),
    "LaMP-2-old": (
        lambda p, t: f'the category for the article: "{t}" is "{p["category"]}" ',
        "text",
        lambda p: f'the category for the article: " " is "{p["category"]}" ',
        None,
        True,
        "{j}. {i}",
    ),
    "LaMP-3": (
        lambda p, t: f'{p["score"]} is the score for "{t}" ',
        "text",
        lambda p: f'{p["score"]} is the score for " " ',
        None,
        True,
        "{j}. {i}",
    ),
    "LaMP-4": (
        lambda p, t: f'"{p["title"]}" is the title for "{t}" ',
        "text",
        lambda p: f'"{p["title"]}" is the title for " " ',
        None,
        True,
        "{j}. {i}",
    ),
    "LaMP-5": (
        lambda p, t: f'"{p["title"]}" is a title for "{t}" ',
        "abstract",
        lambda p: f'"{p["title"]}" is a title " " ',
        "Following the given patterns",
        True,
        "{j}. Following the given patterns {i}",
    ),
    "LaMP-6": (
        lambda p, t: f'"{p["title"]}" is the title for "{t}" ',
        "text",
        lambda p: f'"{p["title"]}" is the title for " " ',
        None,
        True,
        "{j}. {i}",
    ),
    "LaMP-7": (
        lambda p, t: f'"{t}" ',
        "text",
        lambda p: '"" ',
        "are written by user. Following the given patterns",
        True,
        "{j} are written by a person. Following the given patterns {i}",
    ),
}


def oracle_prompt(task_name, inp, profile, max_length, tokenizer):
    render, field, overhead, reserved, minus_one, assembly = ORACLE[task_name]

    def build(budget):
        count = len(profile)
        per_item = (budget - (1 if minus_one else 0) - 2 * (count - 1)) // count
        if reserved:
            per_item = (
                budget - 1 - 2 * (count - 1) - len(tokenizer(reserved)["input_ids"])
            ) // count
        saved, parts = 0, []
        for p in profile:
            need = (
                overhead if isinstance(overhead, int) else len(tokenizer(overhead(p))["input_ids"])
            )
            ids = tokenizer(p[field], max_length=per_item + saved - need, truncation=True)[
                "input_ids"
            ]
            saved += per_item - len(ids) - need
            parts.append(render(p, tokenizer.batch_decode([ids], skip_special_tokens=True)[0]))
        joined = ", and ".join(parts)
        if assembly is None:
            cut = inp.find("title")
            return inp if cut == -1 else inp[: cut + 5] + ", and " + joined + inp[cut + 5 :]
        return assembly.format(j=joined, i=inp)

    factor = 0.6
    while True:
        try:
            return build(
                max_length - min(len(tokenizer(inp)["input_ids"]), int(factor * max_length))
            )
        except Exception:
            factor -= 0.1
            if factor < 0:
                return inp


# --- registry and queries ------------------------------------------------------------------
def test_registry_resolves_all_spellings():
    assert set(ALL_TASKS) <= set(task_names())
    assert get_task("LaMP_2") is get_task("LaMP-2") is get_task("lamp2")
    assert get_task("LaMP-2-old") is not get_task("LaMP-2")
    assert get_task("LaMP_3").official_name == "LaMP_3"
    with pytest.raises(LampError, match="unknown task"):
        get_task("LaMP-9")


@pytest.mark.parametrize("task_name", ALL_TASKS)
def test_query_extraction(task_name):
    assert get_task(task_name).query(INPUTS[task_name]) == QUERIES[task_name]


def test_citation_query_toggles_quotes_character_by_character():
    text = 'title "a b" x "c" y "d e" z "unterminated'
    assert strings_between_quotes(text) == ["a b", "c", "d e"]
    assert citation_query(text) == "c d e"
    assert citation_query('only "one" quote') is None


def test_missing_marker_is_a_clear_error():
    with pytest.raises(LampError, match="marker is missing"):
        get_task("LaMP-3").query("no marker here")
    # the first occurrence wins, as with str.find
    assert get_task("LaMP-6").query("email: re: hello ") == "re: hello"


@pytest.mark.parametrize(
    ("task_name", "expected"),
    [
        ("LaMP-1", "big news today the movie is about love and war"),
        ("LaMP-2", "the movie is about love and war"),
        ("LaMP-2-old", "big news today the movie is about love and war"),
        ("LaMP-3", "the movie is about love and war"),
        ("LaMP-4", "big news today the movie is about love and war"),
        ("LaMP-5", "big news today the movie is about love and war"),
        ("LaMP-6", "the movie is about love and war"),
        ("LaMP-7", "the movie is about love and war"),
    ],
)
def test_documents(task_name, expected):
    task = get_task(task_name)
    profile = profile_items(task_name, 2)
    assert task.documents(profile)[0] == expected
    assert task.documents(profile, use_date=True)[0] == expected + " date: 2020-01-01"
    with pytest.raises(LampError, match="no 'date'"):
        task.documents([{k: v for k, v in profile[0].items() if k != "date"}], use_date=True)


# --- prompts: pinned strings (no truncation; texts round-trip through the tokenizer) -------
PINNED_K2 = {
    "LaMP-1": 'For an author who has written the paper with the title, and "big news today", and '
    '"a new world" "neural retrieval for users", which reference',
    "LaMP-2": 'the tag for the movie: "the movie is about love and war" is "sci-fi" , and the '
    'tag for the movie: "a story of space and a robot" is "based on a book" . Which tag',
    "LaMP-2-old": 'the category for the article: "the movie is about love and war" is "women" , '
    'and the category for the article: "a story of space and a robot" is "religion" . Which',
    "LaMP-3": '1 is the score for "the movie is about love and war" , and 2 is the score for "a '
    'story of space and a robot" . What is',
    "LaMP-4": '"big news today" is the title for "the movie is about love and war" , and "a new '
    'world" is the title for "a story of space and a robot" . Generate a headline',
    "LaMP-5": '"big news today" is a title for "the movie is about love and war" , and "a new '
    'world" is a title for "a story of space and a robot" . Following the given patterns '
    "Generate a title",
    "LaMP-6": '"big news today" is the title for "the movie is about love and war" , and "a new '
    'world" is the title for "a story of space and a robot" . Generate a subject',
    "LaMP-7": '"the movie is about love and war" , and "a story of space and a robot"  are '
    "written by a person. Following the given patterns Paraphrase",
}


@pytest.mark.parametrize("task_name", ALL_TASKS)
def test_prompt_pinned_two_items(task_name, t5_tokenizer):
    prompt = get_task(task_name).prompt(
        INPUTS[task_name], profile_items(task_name, 2), t5_tokenizer, max_length=512
    )
    assert prompt.startswith(PINNED_K2[task_name])
    assert prompt.endswith(INPUTS[task_name][-30:])


@pytest.mark.parametrize("task_name", ALL_TASKS)
def test_prompt_empty_selection_is_bare_input(task_name, t5_tokenizer):
    assert get_task(task_name).prompt(INPUTS[task_name], [], t5_tokenizer, 512) == INPUTS[task_name]


@pytest.mark.parametrize("tokenizer_name", ["t5_tokenizer", "bert_tokenizer"])
@pytest.mark.parametrize("task_name", ALL_TASKS)
@pytest.mark.parametrize("count", [1, 2, 4])
@pytest.mark.parametrize(("max_length", "long"), [(512, False), (96, True), (40, True), (8, True)])
def test_prompt_matches_reference_algorithm(
    task_name, count, max_length, long, tokenizer_name, request
):
    """Truncation (budget, carry, retry, round-trip) equals the reference's, both tokenizers."""
    tokenizer = request.getfixturevalue(tokenizer_name)
    profile = profile_items(task_name, count, long=long)
    expected = oracle_prompt(task_name, INPUTS[task_name], profile, max_length, tokenizer)
    assert get_task(task_name).prompt(INPUTS[task_name], profile, tokenizer, max_length) == expected


def test_truncation_shortens_items_within_budget(t5_tokenizer):
    task = get_task("LaMP-4")
    profile = profile_items("LaMP-4", 4, long=True)
    short_prompt = task.prompt(INPUTS["LaMP-4"], profile, t5_tokenizer, max_length=128)
    long_prompt = task.prompt(INPUTS["LaMP-4"], profile, t5_tokenizer, max_length=2048)
    # the reference's budget is approximate (templates tokenize differently once joined);
    # the generator truncates the final prompt at max_length
    assert len(t5_tokenizer(short_prompt)["input_ids"]) < 1.5 * 128
    assert len(long_prompt) > 3 * len(short_prompt)
    # every item is still present, in rank order, each truncated from the end
    for item in profile:
        assert f'"{item["title"]}" is the title for "the movie' in short_prompt or (
            f'"{item["title"]}" is the title for "' in short_prompt
        )
    positions = [short_prompt.index(f'"{item["title"]}"') for item in profile[:3]]
    assert positions == sorted(positions)


def test_tiny_budget_falls_back_to_bare_input(t5_tokenizer):
    task = get_task("LaMP-5")
    profile = profile_items("LaMP-5", 4, long=True)
    assert task.prompt(INPUTS["LaMP-5"], profile, t5_tokenizer, max_length=4) == INPUTS["LaMP-5"]


def test_prompt_reports_missing_profile_field(t5_tokenizer):
    with pytest.raises(KeyError, match="tag"):
        get_task("LaMP-2").prompt(
            INPUTS["LaMP-2"], [{"id": "1", "description": "x"}], t5_tokenizer, 512
        )
