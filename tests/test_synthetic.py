"""Tests for the synthetic LaMP generator and the shipped sample (ropg/data/sample)."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from ropg.lamp.synthetic import DEFAULT_TASKS, SAMPLE_COMMAND, generate, main, sample_path
from ropg.lamp.tasks import get_task

SPLITS = ("train", "dev", "test")
PREFIXES = {
    "LaMP-1": 'For an author who has written the paper with the title "',
    "LaMP-2": "Which tag does this movie relate to among the following tags? Just answer with the "
    "tag name without further explanation. tags: [sci-fi, based on a book, comedy, action, "
    "twist ending, dystopia, dark comedy, classic, psychology, fantasy, romance, "
    "thought-provoking, social commentary, violence, true story] description: ",
    "LaMP-2-old": "Which category does this article relate to among the following categories? "
    "Just answer with the category name without further explanation. categories: [women, "
    "religion, politics, style & beauty, entertainment, culture & arts, sports, science & "
    "technology, travel, business, crime, education, healthy living, parents, food & drink] "
    "article: ",
    "LaMP-3": "What is the score of the following review on a scale of 1 to 5? just answer with "
    "1, 2, 3, 4, or 5 without further explanation. review: ",
    "LaMP-4": "Generate a headline for the following article: ",
    "LaMP-5": "Generate a title for the following abstract of a paper: ",
    "LaMP-6": "Generate a subject for the following email: ",
    "LaMP-7": "Paraphrase the following tweet without any explanation before or after it: ",
}
CITATION = re.compile(
    r'For an author who has written the paper with the title "[^"]+", which reference is '
    r'related\? Just answer with \[1\] or \[2\] without explanation\. \[1\]: "[^"]+" '
    r'\[2\]: "[^"]+"'
)
LABEL_FIELDS = {"LaMP-2": "tag", "LaMP-2-old": "category", "LaMP-3": "score"}
DATE = re.compile(r"\d{4}(-\d{2}-\d{2})?")


def load(root: Path, task: str, split: str) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Questions and (when present) the outputs object of one split in the time layout."""
    folder = root / "time" / get_task(task).official_name / split
    questions = json.loads((folder / f"{split}_questions.json").read_text(encoding="utf-8"))
    outputs_file = folder / f"{split}_outputs.json"
    outputs = (
        json.loads(outputs_file.read_text(encoding="utf-8")) if outputs_file.exists() else None
    )
    return questions, outputs


def labelled(root: Path, task: str, splits: Sequence[str] = ("train", "dev")) -> list[tuple]:
    """(question, gold) pairs of the labelled splits."""
    pairs = []
    for split in splits:
        questions, outputs = load(root, task, split)
        assert outputs is not None
        golds = {gold["id"]: gold["output"] for gold in outputs["golds"]}
        pairs.extend((question, golds[question["id"]]) for question in questions)
    return pairs


def words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def overlap_ranking(task: str, question: dict[str, Any]) -> list[dict[str, Any]]:
    """Profile items by decreasing count of lowercase words shared with the query."""
    spec = get_task(task)
    query = words(spec.query(question["input"]))
    return sorted(question["profile"], key=lambda item: -len(query & words(spec.document(item))))


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synthetic")
    generate(root, users=7, seed=5, tasks=[*DEFAULT_TASKS, "LaMP-2-old"], max_profile=1100)
    return root


@pytest.fixture(scope="module", params=["small", "sample"])
def root(request: pytest.FixtureRequest, small: Path) -> Path:
    return small if request.param == "small" else sample_path()


# (where, task): the shipped sample has no LaMP-2-old, the small generated set has it.
CASES = [(where, task) for where in ("small", "sample") for task in DEFAULT_TASKS]
CASES.append(("small", "LaMP-2-old"))


def test_sample_is_shipped_and_small() -> None:
    sample = sample_path()
    assert "--out ropg/data/sample" in SAMPLE_COMMAND
    files = sorted(sample.rglob("*.json"))
    assert len(files) == 7 * 5
    assert sum(path.stat().st_size for path in files) < 4_200_000
    for task in DEFAULT_TASKS:
        assert len(load(sample, task, "train")[0]) >= 40
        assert len(load(sample, task, "dev")[0]) >= 20
        assert len(load(sample, task, "test")[0]) >= 20


def test_deterministic(tmp_path: Path, small: Path) -> None:
    generate(
        tmp_path / "a", users=7, seed=5, tasks=[*DEFAULT_TASKS, "LaMP-2-old"], max_profile=1100
    )
    first = {
        p.relative_to(tmp_path / "a"): p.read_bytes() for p in (tmp_path / "a").rglob("*.json")
    }
    again = {p.relative_to(small): p.read_bytes() for p in small.rglob("*.json")}
    assert first == again
    generate(tmp_path / "b", users=7, seed=6, tasks=["LaMP-3"], max_profile=1100)
    other = (tmp_path / "b/time/LaMP_3/dev/dev_questions.json").read_bytes()
    assert other != first[Path("time/LaMP_3/dev/dev_questions.json")]


@pytest.mark.parametrize("where,task", CASES)
def test_shapes(where: str, task: str, small: Path) -> None:
    root = small if where == "small" else sample_path()
    spec = get_task(task)
    for split in SPLITS:
        questions, outputs = load(root, task, split)
        assert isinstance(questions, list) and questions
        ids = [question["id"] for question in questions]
        assert len(set(ids)) == len(ids)
        for question in questions:
            assert set(question) == {"id", "input", "profile", "user_id"}
            assert all(isinstance(question[key], str) for key in ("id", "input", "user_id"))
            item_ids = [item["id"] for item in question["profile"]]
            assert len(set(item_ids)) == len(item_ids)
            for item in question["profile"]:
                assert set(item) == {"id", "date", *spec.profile_fields}
                assert all(isinstance(value, str) for value in item.values())
                assert DATE.fullmatch(item["date"])
        if split == "test":
            assert outputs is None
            continue
        assert outputs is not None and set(outputs) == {"task", "golds"}
        assert outputs["task"] == spec.official_name
        assert [gold["id"] for gold in outputs["golds"]] == ids
        assert all(set(g) == {"id", "output"} and g["output"] for g in outputs["golds"])


@pytest.mark.parametrize("where,task", CASES)
def test_inputs_follow_templates_and_labels(where: str, task: str, small: Path) -> None:
    root = small if where == "small" else sample_path()
    spec = get_task(task)
    for split in SPLITS:
        for question in load(root, task, split)[0]:
            assert question["input"].startswith(PREFIXES[task])
            assert spec.query(question["input"])
            if task == "LaMP-1":
                assert CITATION.fullmatch(question["input"])
            if task in LABEL_FIELDS:
                for item in question["profile"]:
                    assert item[LABEL_FIELDS[task]] in spec.labels
    if spec.labels:
        assert all(gold in spec.labels for _, gold in labelled(root, task))


def test_loads_with_project_loader() -> None:
    from ropg.lamp.data import load_split

    for task in DEFAULT_TASKS:
        for split in SPLITS:
            loaded = load_split(sample_path(), task, split, require_golds=split != "test")
            assert len(loaded) > 0


@pytest.mark.parametrize("task", DEFAULT_TASKS)
def test_hard_cases(root: Path, task: str) -> None:
    questions = [q for split in SPLITS for q in load(root, task, split)[0]]
    sizes = {len(question["profile"]) for question in questions}
    assert {0, 1} <= sizes and max(sizes) > 1000
    texts = [q["input"] for q in questions]
    texts += [" ".join(item.values()) for q in questions for item in q["profile"]]
    assert max(len(text.split()) for text in texts) > 600
    joined = "".join(texts)
    assert re.search(r"[À-ɏ]", joined), "no accented letters"
    if task == "LaMP-1":
        dates = {item["date"] for q in questions for item in q["profile"]}
        assert any(len(date) == 4 for date in dates) and any(len(date) == 10 for date in dates)


def test_unicode_everywhere_in_sample() -> None:
    joined = "".join(p.read_text(encoding="utf-8") for p in sample_path().rglob("*.json"))
    assert re.search(r"[\u4e00-\u9fff]", joined), "no CJK"
    assert any(ord(char) > 0x1F000 for char in joined), "no emoji"


def majority(labels: Sequence[str]) -> str:
    return Counter(labels).most_common(1)[0][0]


def mean_score(labels: Sequence[str]) -> str:
    return str(round(sum(int(label) for label in labels) / len(labels)))


def agreement(task: str, field: str, vote: Callable[[Sequence[str]], str], k: int = 3) -> tuple:
    """How often the top-k (word overlap) and k random profile items vote for the gold."""
    rng = random.Random(0)
    top = rand = total = 0
    for question, gold in labelled(sample_path(), task):
        profile = question["profile"]
        if len(profile) < 2 * k:
            continue
        ranked = overlap_ranking(task, question)
        top += vote([item[field] for item in ranked[:k]]) == gold
        rand += vote([item[field] for item in rng.sample(profile, k)]) == gold
        total += 1
    assert total >= 40
    return top / total, rand / total


def test_personalization_tags() -> None:
    top, rand = agreement("LaMP-2", "tag", majority)
    assert top >= rand + 0.2, (top, rand)
    pairs = [(q, g) for q, g in labelled(sample_path(), "LaMP-2") if q["profile"]]
    overall = majority([item["tag"] for q, _ in pairs for item in q["profile"]])
    by_profile = sum(majority([i["tag"] for i in q["profile"]]) == g for q, g in pairs)
    by_global = sum(overall == g for _, g in pairs)
    assert by_profile >= by_global + 0.2 * len(pairs), (by_profile, by_global, len(pairs))


def test_personalization_ratings() -> None:
    top, rand = agreement("LaMP-3", "score", mean_score)
    assert top >= rand + 0.15, (top, rand)


def test_personalization_citation() -> None:
    right = total = 0
    for question, gold in labelled(sample_path(), "LaMP-1"):
        if len(question["profile"]) < 3:
            continue
        refs = re.findall(r'"([^"]*)"', question["input"])[1:3]
        profile_words = [words(get_task("LaMP-1").document(item)) for item in question["profile"]]
        support = [sum(len(words(ref) & doc) for doc in profile_words) for ref in refs]
        right += ("[1]" if support[0] > support[1] else "[2]") == gold
        total += 1
    assert right / total > 0.75, (right, total)


@pytest.mark.parametrize(
    "task,field",
    [("LaMP-4", "title"), ("LaMP-5", "title"), ("LaMP-6", "title"), ("LaMP-7", "text")],
)
def test_personalization_generation(task: str, field: str) -> None:
    rng = random.Random(0)
    top = rand = 0.0
    for question, gold in labelled(sample_path(), task):
        if len(question["profile"]) < 3:
            continue
        gold_words = words(gold)
        best = overlap_ranking(task, question)[0]
        top += len(words(best[field]) & gold_words) / len(gold_words)
        rand += len(words(rng.choice(question["profile"])[field]) & gold_words) / len(gold_words)
    assert top > rand * 1.15, (top, rand)


def test_cli_subset_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--out", str(tmp_path), "--users", "5", "--seed", "1", "--max-profile", "20"]
    assert main([*argv, "--tasks", "LaMP-2-old,lamp3"]) == 0
    assert "2 tasks" in capsys.readouterr().out
    written = sorted(p.name for p in (tmp_path / "time").iterdir())
    assert written == ["LaMP_2_old", "LaMP_3"]
    sizes = [len(q["profile"]) for q in load(tmp_path, "LaMP-3", "dev")[0]]
    assert max(sizes) == 20
    with pytest.raises(SystemExit):
        main([*argv, "--tasks", "LaMP-9"])


def test_module_entry_point(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "ropg.lamp.synthetic", "--out", str(tmp_path)]
    command += ["--users", "3", "--tasks", "LaMP-7", "--max-profile", "5"]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    assert result.stdout.startswith("wrote 1 tasks")
    assert (tmp_path / "time/LaMP_7/test/test_questions.json").is_file()
