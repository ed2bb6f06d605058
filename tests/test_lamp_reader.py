"""The retrieval-only reader (``reader:profile``), driven by real task prompts.

Every prompt here is built by ``get_task(...).prompt`` with a real tokenizer; the reader
reads the items the prompt carries (as the prompt shows them), never the rendered text.
"""

from __future__ import annotations

import pytest
from lamp_inputs import INPUTS, profile_items

from ropg.generation import CachedGenerator, GenerationConfig, GenerationError, get_generator
from ropg.generation.words import WordTokenizer
from ropg.lamp import get_task
from ropg.lamp.prompts import TaskPrompt
from ropg.lamp.reader import ProfileReader, reader_input, reader_tasks
from ropg.lamp.tasks import MOVIE_TAGS, NEWS_CATEGORIES

ALL_TASKS = ["LaMP-1", "LaMP-2", "LaMP-2-old", "LaMP-3", "LaMP-4", "LaMP-5", "LaMP-6", "LaMP-7"]
BODIES = {
    "LaMP-4": "the people of the city show new results",
    "LaMP-5": "we propose a novel approach",
    "LaMP-6": "please send the report today",
    "LaMP-7": "happy new time",
}


@pytest.fixture(params=["words", "t5", "bert"])
def tokenizer(request: pytest.FixtureRequest):
    """The reader's own word tokenizer and two LLM-style ones (T5 EOS, lowercasing BERT)."""
    if request.param == "words":
        return WordTokenizer()
    return request.getfixturevalue(f"{request.param}_tokenizer")


def prompt(task: str, items: list[dict], tokenizer, max_length: int = 512) -> str:
    return get_task(task).prompt(INPUTS[task], items, tokenizer, max_length)


def answer(task: str, items: list[dict], tokenizer, **options) -> str:
    return ProfileReader(**options).answer(prompt(task, items, tokenizer))


def with_values(task: str, field: str, values: list[str]) -> list[dict]:
    items = profile_items(task, len(values))
    for item, value in zip(items, values):
        item[field] = value
    return items


@pytest.mark.parametrize("task", ALL_TASKS)
@pytest.mark.parametrize("count", [0, 1, 3])
def test_prompts_carry_their_task_input_and_items(task: str, count: int, tokenizer) -> None:
    items = profile_items(task, count)
    built = prompt(task, items, tokenizer)
    assert isinstance(built, TaskPrompt) and isinstance(built, str)
    read = reader_input(built)
    assert (read.task.name, read.input) == (task, INPUTS[task])
    assert len(read.items) == count
    label_field = {"LaMP-2": "tag", "LaMP-2-old": "category", "LaMP-3": "score"}.get(task)
    if count and label_field:  # label fields are never truncated
        assert [item[label_field] for item in read.items] == [item[label_field] for item in items]
    for shown in read.items:  # each item as the prompt shows it (its text field truncated)
        rendered = get_task(task).template.item.format(**shown)
        assert rendered in built


def test_items_are_read_as_shown_after_truncation(t5_tokenizer) -> None:
    items = profile_items("LaMP-4", 2)
    items[0]["text"] = " ".join(["news"] * 400)
    built = prompt("LaMP-4", items, t5_tokenizer, max_length=64)
    shown = reader_input(built).items
    assert len(shown[0]["text"].split()) < 400 and shown[0]["title"] == items[0]["title"]


def test_a_plain_string_is_a_bare_input_of_its_task() -> None:
    read = reader_input(INPUTS["LaMP-3"])
    assert read.task.name == "LaMP-3" and read.items == ()
    assert ProfileReader().answer(INPUTS["LaMP-3"]) == "3"


def test_a_rendered_prompt_as_plain_text_is_refused(tokenizer) -> None:
    built = prompt("LaMP-2", profile_items("LaMP-2", 2), tokenizer)
    with pytest.raises(GenerationError, match="rendered prompt with retrieved items"):
        ProfileReader().answer(str(built))


def test_task_prompts_survive_pickling(tokenizer) -> None:
    import pickle

    built = prompt("LaMP-2", profile_items("LaMP-2", 2), tokenizer)
    copy = pickle.loads(pickle.dumps(built))
    assert copy == built and copy.items == built.items and copy.task == "LaMP-2"


@pytest.mark.parametrize(
    ("titles", "expected"),
    [
        (["the deep language model", "learning a large model"], "[1]"),
        (["space robot", "the city of the robot", "deep network"], "[2]"),
        ([], "[1]"),
    ],
)
def test_lamp1_picks_the_reference_closest_to_the_retrieved_titles(
    titles: list[str], expected: str, tokenizer
) -> None:
    assert answer("LaMP-1", with_values("LaMP-1", "title", titles), tokenizer) == expected


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        (["comedy", "action", "comedy", "fantasy"], "comedy"),
        (["action", "comedy", "comedy", "action"], "action"),  # tie: the best-ranked tag
        (["twist ending", "dark comedy", "dark comedy"], "dark comedy"),
    ],
)
def test_lamp2_answers_the_majority_tag(tags: list[str], expected: str, tokenizer) -> None:
    assert answer("LaMP-2", with_values("LaMP-2", "tag", tags), tokenizer) == expected


def test_lamp2_without_items_gives_a_fixed_label(tokenizer) -> None:
    assert answer("LaMP-2", [], tokenizer) == MOVIE_TAGS[0]
    assert answer("LaMP-2", [], tokenizer, default_label="classic") == "classic"
    items = with_values("LaMP-2-old", "category", ["sports", "travel", "sports"])
    assert answer("LaMP-2-old", items, tokenizer) == "sports"
    assert answer("LaMP-2-old", [], tokenizer) == NEWS_CATEGORIES[0]


@pytest.mark.parametrize(
    ("scores", "rounded", "mean"),
    [(["5", "4", "4"], "4", "4.33333"), (["1", "2"], "2", "1.5"), ([], "3", "3")],
)
def test_lamp3_answers_the_mean_rating(
    scores: list[str], rounded: str, mean: str, tokenizer
) -> None:
    items = with_values("LaMP-3", "score", scores)
    assert answer("LaMP-3", items, tokenizer) == rounded
    assert answer("LaMP-3", items, tokenizer, round_rating=False) == mean


@pytest.mark.parametrize("task", ["LaMP-4", "LaMP-5", "LaMP-6"])
def test_title_tasks_answer_the_top_title_or_the_input(task: str, tokenizer) -> None:
    items = with_values(task, "title", ['a "quoted" headline', "other title"])
    assert answer(task, items, tokenizer) == 'a "quoted" headline'
    assert answer(task, [], tokenizer) == BODIES[task]
    capped = ProfileReader(GenerationConfig(max_new_tokens=2)).answer(prompt(task, [], tokenizer))
    assert capped == " ".join(BODIES[task].split()[:2])


def test_lamp7_answers_the_input_tweet(tokenizer) -> None:
    assert answer("LaMP-7", profile_items("LaMP-7", 3), tokenizer) == BODIES["LaMP-7"]
    assert answer("LaMP-7", [], tokenizer) == BODIES["LaMP-7"]


def test_an_explicit_task_overrides_detection(tokenizer) -> None:
    text = "tell me something"
    with pytest.raises(GenerationError, match="cannot tell the LaMP task"):
        ProfileReader().answer(text)
    assert ProfileReader(task="LaMP_3").answer(text) == "3"
    assert ProfileReader(task="lamp4").answer(text) == text
    with pytest.raises(GenerationError, match="does not know task"):
        ProfileReader(task="LaMP-9")
    with pytest.raises(GenerationError, match="not a LaMP-2 label"):
        ProfileReader(task="LaMP-2", default_label="horror")


def test_registered_as_a_deterministic_cacheable_backend(tmp_path, tokenizer) -> None:
    reader = get_generator("reader:profile", round_rating=False)
    assert isinstance(reader, ProfileReader)
    assert reader.identity["backend"] == "reader"
    assert reader.identity != get_generator("reader:profile").identity
    with pytest.raises(GenerationError, match="unknown reader"):
        get_generator("reader:llm")
    prompts = [prompt(task, profile_items(task, 2), tokenizer) for task in reader_tasks()]
    cached = CachedGenerator(reader, tmp_path / "cache.sqlite")
    first = cached.generate(prompts)
    assert first == reader.generate(prompts)
    assert CachedGenerator(reader, cached.cache).generate(prompts) == first
    assert cached.cache.stats().entries == len(set(prompts))


def test_stop_strings_apply() -> None:
    reader = ProfileReader(GenerationConfig(stop=(" the",)))
    assert reader.answer(INPUTS["LaMP-4"]) == "the people of"


def test_word_tokenizer_round_trips_and_truncates() -> None:
    tokenizer = WordTokenizer()
    ids = tokenizer("a  b\tc a", max_length=3, truncation=True)["input_ids"]
    assert len(ids) == 3 and ids[0] != ids[1]
    assert tokenizer.batch_decode([ids], skip_special_tokens=True) == ["a b c"]
    assert len(tokenizer("a b c")["input_ids"]) == 3
    with pytest.raises(ValueError):
        tokenizer("a b", max_length=-1, truncation=True)


def test_better_retrieval_gives_better_numbers_on_the_sample() -> None:
    from ropg.lamp import load_split
    from ropg.lamp.synthetic import sample_path
    from ropg.retrievers import get_retriever
    from ropg.retrievers.pipeline import rank_split

    reader = ProfileReader()
    split = load_split(sample_path(), "LaMP-2", "dev")
    golds = [example.gold for example in split.examples]
    accuracy = {}
    for name in ("none", "bm25"):
        rankings = rank_split(get_retriever(name), split, top_k=4, show_progress=False)
        prompts = [
            split.task.prompt(e.input, [e.profile[i] for i in rankings[e.id].indices],
                              reader.tokenizer, 512)
            for e in split.examples
        ]  # fmt: skip
        accuracy[name] = split.task.evaluate(golds, reader.generate(prompts))["accuracy"]
    assert accuracy["bm25"] > accuracy["none"]
