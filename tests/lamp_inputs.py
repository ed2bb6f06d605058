"""LaMP-format inputs and profile items shared by the task-layer tests (spec section 2)."""

from __future__ import annotations

from ropg.lamp.tasks import MOVIE_TAGS, NEWS_CATEGORIES

MOVIE_TAG_TEXT = ", ".join(MOVIE_TAGS)
NEWS_TEXT = ", ".join(NEWS_CATEGORIES)

INPUTS = {
    "LaMP-1": (
        'For an author who has written the paper with the title "neural retrieval for users", '
        "which reference is related? Just answer with [1] or [2] without explanation. "
        '[1]: "deep language model" [2]: "space robot city"'
    ),
    "LaMP-2": (
        "Which tag does this movie relate to among the following tags? Just answer with the tag "
        f"name without further explanation. tags: [{MOVIE_TAG_TEXT}] description: a family "
        "movie about love and war in the future city"
    ),
    "LaMP-2-old": (
        "Which category does this article relate to among the following categories? Just "
        f"answer with the category name without further explanation. categories: [{NEWS_TEXT}] "
        "article: the news about the big city world"
    ),
    "LaMP-3": (
        "What is the score of the following review on a scale of 1 to 5? just answer with 1, "
        "2, 3, 4, or 5 without further explanation. review: great product with excellent "
        "results"
    ),
    "LaMP-4": "Generate a headline for the following article: the people of the city show new results",
    "LaMP-5": "Generate a title for the following abstract of a paper: we propose a novel approach",
    "LaMP-6": "Generate a subject for the following email: please send the report today",
    "LaMP-7": "Paraphrase the following tweet without any explanation before or after it: happy new time",
}

QUERIES = {
    "LaMP-1": "deep language model space robot city",
    "LaMP-2": "a family movie about love and war in the future city",
    "LaMP-2-old": "the news about the big city world",
    "LaMP-3": "great product with excellent results",
    "LaMP-4": "the people of the city show new results",
    "LaMP-5": "we propose a novel approach",
    "LaMP-6": "please send the report today",
    "LaMP-7": "happy new time",
}

_TEXTS = [
    "the movie is about love and war",
    "a story of space and a robot",
    "deep learning for large language model",
    "the family of the man in the city",
]
_TITLES = ["big news today", "a new world", "learning to write", "the old city"]


def profile_items(task_name: str, count: int, long: bool = False) -> list[dict]:
    """``count`` profile items with every field any task reads (texts from the test vocab)."""
    items = []
    for index in range(count):
        text = _TEXTS[index % len(_TEXTS)]
        if long:
            text = " ".join([text] * 40)
        items.append({
            "id": f"{task_name}-{index}", "date": f"2020-01-{index + 1:02d}",
            "text": text, "title": _TITLES[index % len(_TITLES)], "abstract": text,
            "description": text, "tag": MOVIE_TAGS[index], "category": NEWS_CATEGORIES[index],
            "score": str(1 + index % 5),
        })  # fmt: skip
    return items
