"""The LaMP task registry: labels, query, documents, prompt, metrics and feedback per task.

``get_task("LaMP-2")`` (also ``"LaMP_2"``, ``"lamp2"``) returns a :class:`Task`. New tasks can be
added with :func:`register_task`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from ropg.core.documents import dated_document
from ropg.lamp.errors import LampError
from ropg.lamp.metrics import ClassificationMetric, RatingMetric, RougeMetric, TaskMetric
from ropg.lamp.prompts import PromptTemplate, TaskPrompt
from ropg.lamp.queries import citation_query, text_after_marker

MOVIE_TAGS = (
    "sci-fi", "based on a book", "comedy", "action", "twist ending", "dystopia", "dark comedy",
    "classic", "psychology", "fantasy", "romance", "thought-provoking", "social commentary",
    "violence", "true story",
)  # fmt: skip
NEWS_CATEGORIES = (
    "women", "religion", "politics", "style & beauty", "entertainment", "culture & arts",
    "sports", "science & technology", "travel", "business", "crime", "education",
    "healthy living", "parents", "food & drink",
)  # fmt: skip
CITATION_LABELS = ("[1]", "[2]")
RATING_LABELS = ("1", "2", "3", "4", "5")


@dataclass(frozen=True)
class Task:
    """One LaMP task. All string outputs match the LaMP reference character for character.

    Attributes:
        name: canonical name, e.g. ``"LaMP-2"``.
        official_name: the name used in outputs files, e.g. ``"LaMP_2"``.
        description: one line for humans.
        query_fn: extracts the retrieval query from the input (None when the marker is absent).
        document_fields: profile fields joined by a space to form a retrieval document.
        template: the prompt template.
        metric: the official metric family.
        labels: the label list for classification tasks (order matters for macro-F1).
        profile_fields: fields every profile item must have (besides ``id``).
        directory: the published directory name (``LaMP_2/new`` for movie tagging).
        instruction: the fixed text every input starts with (its variable part follows).
    """

    name: str
    official_name: str
    description: str
    query_fn: Callable[[str], str | None]
    document_fields: tuple[str, ...]
    template: PromptTemplate
    metric: TaskMetric
    labels: tuple[str, ...] = ()
    profile_fields: tuple[str, ...] = ()
    directory: str = ""
    instruction: str = ""

    # -- retrieval -------------------------------------------------------------------------
    def find_query(self, input_text: str) -> str | None:
        """The retrieval query of an input, or None when its marker is missing."""
        return self.query_fn(input_text)

    def query(self, input_text: str) -> str:
        """The retrieval query of an input (docs/lamp-fidelity.md: Queries and documents).

        Raises a UserError when it has none."""
        query = self.query_fn(input_text)
        if query is None:
            raise LampError(
                f"{self.name}: cannot extract a retrieval query from input {input_text[:80]!r} "
                "(its marker is missing)"
            )
        return query

    def document(self, item: Mapping[str, Any], use_date: bool = False) -> str:
        """The retrieval text of one profile item, optionally with ``" date: {date}"``."""
        text = " ".join(str(item[field]) for field in self.document_fields)
        return dated_document(text, item, use_date, self.name)

    def documents(self, profile: Sequence[Mapping[str, Any]], use_date: bool = False) -> list[str]:
        """The retrieval texts of a profile, in profile order."""
        return [self.document(item, use_date) for item in profile]

    # -- prompting -------------------------------------------------------------------------
    def prompt(
        self,
        input_text: str,
        items: Sequence[Mapping[str, Any]],
        tokenizer: Any,
        max_length: int = 512,
    ) -> TaskPrompt:
        """The personalized prompt for ranked ``items`` (an empty list gives the bare input):
        a ``str`` that also carries the input and the items as shown (:class:`TaskPrompt`)."""
        text, shown = self.template.build(input_text, items, tokenizer, max_length)
        return TaskPrompt(text, self.name, input_text, shown)

    def body(self, input_text: str) -> str:
        """The input's variable part: the text after :attr:`instruction`, stripped."""
        if self.instruction and input_text.startswith(self.instruction):
            return input_text[len(self.instruction) :].strip()
        return input_text.strip()

    # -- metrics ---------------------------------------------------------------------------
    @property
    def metric_keys(self) -> tuple[str, ...]:
        return self.metric.keys

    def evaluate(
        self,
        golds: Sequence[str],
        preds: Sequence[Any],
        aggregate: str = "mean",
        seed: int = 0,
    ) -> dict[str, float]:
        """Official metrics with the official keys (accuracy/f1, MAE/RMSE, rouge-1/rouge-L)."""
        return self.metric.evaluate(golds, preds, aggregate=aggregate, seed=seed)

    def per_example(self, golds: Sequence[str], preds: Sequence[Any]) -> dict[str, np.ndarray]:
        """Per-example values (correctness, absolute error, ROUGE) for significance tests."""
        return self.metric.per_example(golds, preds)

    def example_score(self, gold: str, pred: Any) -> float:
        """Per-example feedback score, higher is better (docs/lamp-fidelity.md)."""
        return self.metric.example_score(gold, pred)

    def example_scores(self, golds: Sequence[str], preds: Sequence[Any]) -> list[float]:
        return [self.example_score(g, p) for g, p in zip(golds, preds)]


_TASKS: dict[str, Task] = {}


def _normalize(name: str) -> str:
    return re.sub(r"[\s_\-]", "", name).lower()


def register_task(task: Task) -> Task:
    """Add a task to the registry (its name and official name both resolve to it)."""
    for alias in (task.name, task.official_name):
        _TASKS[_normalize(alias)] = task
    return task


def get_task(name: str | Task) -> Task:
    """Resolve ``"LaMP-2"``, ``"LaMP_2"``, ``"lamp2"`` or ``"LaMP-2-old"`` to its Task."""
    if isinstance(name, Task):
        return name
    try:
        return _TASKS[_normalize(str(name))]
    except KeyError:
        raise LampError(f"unknown task {name!r}; known tasks: {', '.join(task_names())}") from None


def task_names() -> list[str]:
    """Canonical names of all registered tasks."""
    return sorted({task.name for task in _TASKS.values()})


_after = partial(partial, text_after_marker)

register_task(Task(
    name="LaMP-1", official_name="LaMP_1", description="personalized citation identification",
    query_fn=citation_query, document_fields=("title", "abstract"),
    template=PromptTemplate(
        item='"{title}"', truncated_field="title", length_item=None, fixed_overhead=2,
        reserve_eos_slot=False, insert_after="title",
    ),
    metric=ClassificationMetric(CITATION_LABELS), labels=CITATION_LABELS,
    profile_fields=("title", "abstract"), directory="LaMP_1",
    instruction="For an author who has written the paper with the title",
))  # fmt: skip
register_task(Task(
    name="LaMP-2", official_name="LaMP_2", description="personalized movie tagging",
    query_fn=_after(marker="description:"), document_fields=("description",),
    template=PromptTemplate(
        item='the tag for the movie: "{description}" is "{tag}" ', truncated_field="description",
        length_item='the tag for the movie: " " is "{tag}" ',
    ),
    metric=ClassificationMetric(MOVIE_TAGS), labels=MOVIE_TAGS,
    profile_fields=("description", "tag"), directory="LaMP_2/new",
    instruction="Which tag does this movie relate to among the following tags?",
))  # fmt: skip
register_task(Task(
    name="LaMP-2-old", official_name="LaMP_2_old", description="personalized news categorization",
    query_fn=_after(marker="article:"), document_fields=("title", "text"),
    template=PromptTemplate(
        item='the category for the article: "{text}" is "{category}" ', truncated_field="text",
        length_item='the category for the article: " " is "{category}" ',
    ),
    metric=ClassificationMetric(NEWS_CATEGORIES), labels=NEWS_CATEGORIES,
    profile_fields=("title", "text", "category"), directory="LaMP_2",
    instruction="Which category does this article relate to among the following categories?",
))  # fmt: skip
register_task(Task(
    name="LaMP-3", official_name="LaMP_3", description="personalized product rating",
    query_fn=_after(marker="review:"), document_fields=("text",),
    template=PromptTemplate(
        item='{score} is the score for "{text}" ', truncated_field="text",
        length_item='{score} is the score for " " ',
    ),
    metric=RatingMetric(), labels=RATING_LABELS,
    profile_fields=("text", "score"), directory="LaMP_3",
    instruction="What is the score of the following review on a scale of 1 to 5?",
))  # fmt: skip
register_task(Task(
    name="LaMP-4", official_name="LaMP_4", description="personalized news headline generation",
    query_fn=_after(marker="article:"), document_fields=("title", "text"),
    template=PromptTemplate(
        item='"{title}" is the title for "{text}" ', truncated_field="text",
        length_item='"{title}" is the title for " " ',
    ),
    metric=RougeMetric(), profile_fields=("title", "text"), directory="LaMP_4",
    instruction="Generate a headline for the following article:",
))  # fmt: skip
register_task(Task(
    name="LaMP-5", official_name="LaMP_5", description="personalized scholarly title generation",
    query_fn=_after(marker="paper:"), document_fields=("title", "abstract"),
    template=PromptTemplate(
        item='"{title}" is a title for "{abstract}" ', truncated_field="abstract",
        length_item='"{title}" is a title " " ',
        assembly="{joined}. Following the given patterns {input}",
        reserved_text="Following the given patterns",
    ),
    metric=RougeMetric(), profile_fields=("title", "abstract"), directory="LaMP_5",
    instruction="Generate a title for the following abstract of a paper:",
))  # fmt: skip
register_task(Task(
    name="LaMP-6", official_name="LaMP_6", description="personalized email subject generation",
    query_fn=_after(marker=":"), document_fields=("text",),
    template=PromptTemplate(
        item='"{title}" is the title for "{text}" ', truncated_field="text",
        length_item='"{title}" is the title for " " ',
    ),
    metric=RougeMetric(), profile_fields=("title", "text"), directory="LaMP_6",
    instruction="Generate a subject for the following email:",
))  # fmt: skip
register_task(Task(
    name="LaMP-7", official_name="LaMP_7", description="personalized tweet paraphrasing",
    query_fn=_after(marker=":"), document_fields=("text",),
    template=PromptTemplate(
        item='"{text}" ', truncated_field="text", length_item='"" ',
        assembly="{joined} are written by a person. Following the given patterns {input}",
        reserved_text="are written by user. Following the given patterns",
    ),
    metric=RougeMetric(), profile_fields=("text",), directory="LaMP_7",
    instruction="Paraphrase the following tweet without any explanation before or after it:",
))  # fmt: skip
