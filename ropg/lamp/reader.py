"""``reader:profile``: a retrieval-only LaMP baseline that answers from the retrieved items alone.

No language model is involved. The reader gets the prompts an LLM would get — the
:class:`~ropg.lamp.prompts.TaskPrompt` strings that :meth:`Task.prompt` returns, which carry
the task, the input and the items as the prompt shows them — and answers from those items:

=========  =========================================================  ======================
task       answer with retrieved items                                without items
=========  =========================================================  ======================
LaMP-1     the candidate reference whose words best match the         ``[1]``
           retrieved paper titles (ties: ``[1]``)
LaMP-2     the majority tag / category (ties: the best-ranked one)    ``default_label``
LaMP-3     the mean rating, rounded half up (``round_rating``)        ``3``
LaMP-4/5/6 the top item's title                                       the input text
LaMP-7     the input tweet itself                                     the input tweet
=========  =========================================================  ======================

"The input text" is the input's variable part (:meth:`Task.body`), cut to
``max_new_tokens`` words. Better retrieval gives better numbers, so the reader makes a whole
retrieval pipeline meaningful, and fast, on a CPU. A plain string is read as a bare input
(no items) of the task whose :attr:`~ropg.lamp.tasks.Task.instruction` it starts with, or of
the ``task`` option; a plain string holding a rendered prompt with items is refused (its
items would be lost).

Its :attr:`ProfileReader.tokenizer` is a :class:`~ropg.generation.words.WordTokenizer`, so
prompt budgets count words unless another prompt tokenizer is given.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ropg.generation.base import BaseGenerator, BatchCallback, GenerationConfig, apply_stop
from ropg.generation.errors import GenerationError
from ropg.generation.words import WordTokenizer
from ropg.lamp.prompts import TaskPrompt
from ropg.lamp.tasks import Task, get_task, task_names

logger = logging.getLogger(__name__)

READER_VERSION = 2  # 2: answers from the structured items, no longer parsed from the text
MODES = ("profile",)
_WORD = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset(
    "a an and are as at be by for from in is it of on or the to with".split()
)  # fmt: skip
_CITATION_REFERENCES = re.compile(r'\[1\]: "(?P<first>.*)" \[2\]: "(?P<second>.*)"\s*$', re.DOTALL)


@dataclass(frozen=True)
class ReaderOptions:
    """Answer settings (all part of the reader's identity).

    Attributes:
        task: the task of plain-string prompts (default: the one whose instruction they start
            with).
        default_label: LaMP-2/LaMP-2-old answer without items (default: the first label).
        round_rating: LaMP-3 answers the rounded mean (a valid label) instead of the mean.
    """

    task: str | None = None
    default_label: str | None = None
    round_rating: bool = True


@dataclass(frozen=True)
class ReaderInput:
    """What one answer is computed from: the task, the input and the items in rank order."""

    task: Task
    input: str
    items: tuple[Mapping[str, Any], ...] = ()

    @property
    def body(self) -> str:
        return self.task.body(self.input)


Answer = Callable[[ReaderInput, ReaderOptions, int], str]


def _words(text: str) -> list[str]:
    return [word for word in _WORD.findall(text.lower()) if word not in _STOPWORDS]


def _first_words(text: str, count: int) -> str:
    return " ".join(text.split()[:count])


def _similarity(reference: str, titles: Sequence[str]) -> float:
    """Summed cosine similarity of word counts between a reference and each title."""
    ref = Counter(_words(reference))
    ref_norm = math.sqrt(sum(value * value for value in ref.values()))
    total = 0.0
    for title in titles:
        counts = Counter(_words(title))
        norm = math.sqrt(sum(value * value for value in counts.values()))
        if ref_norm and norm:
            total += sum(ref[word] * counts[word] for word in ref) / (ref_norm * norm)
    return total


def _answer_citation(read: ReaderInput, options: ReaderOptions, max_words: int) -> str:
    references = _CITATION_REFERENCES.search(read.input)
    titles = [str(item["title"]) for item in read.items]
    if not titles or references is None:
        return "[1]"
    first, second = (_similarity(ref, titles) for ref in references.group("first", "second"))
    return "[2]" if second > first else "[1]"


def _majority(field: str) -> Answer:
    def answer(read: ReaderInput, options: ReaderOptions, max_words: int) -> str:
        values = [str(item[field]) for item in read.items]
        if not values:
            return options.default_label or read.task.labels[0]
        counts = Counter(values)
        best = max(counts.values())
        return next(value for value in values if counts[value] == best)

    return answer


def _answer_rating(read: ReaderInput, options: ReaderOptions, max_words: int) -> str:
    scores = []
    for item in read.items:
        try:
            score = float(item["score"])
        except (TypeError, ValueError):
            continue
        if math.isfinite(score):
            scores.append(score)
        else:  # a NaN or infinite rating says nothing: skipped, and said so
            _warn_once(f"profile item {item.get('id')!r} has the rating {item['score']!r}, not a "
                       "finite number: the reader skips such ratings")  # fmt: skip
    if not scores:
        return "3"
    mean = sum(scores) / len(scores)
    if options.round_rating:
        return str(math.floor(mean + 0.5))
    return f"{mean:g}"


_WARNED: set[str] = set()


def _warn_once(message: str) -> None:
    """Warn about a kind of degenerate value once per process (the first case named)."""
    kind = message.split(":")[-1]
    if kind not in _WARNED:
        _WARNED.add(kind)
        logger.warning("%s", message)


def _answer_top_title(read: ReaderInput, options: ReaderOptions, max_words: int) -> str:
    if read.items:
        return str(read.items[0]["title"]).strip()
    return _first_words(read.body, max_words)


def _answer_input(read: ReaderInput, options: ReaderOptions, max_words: int) -> str:
    return _first_words(read.body, max_words)


ANSWERS: dict[str, Answer] = {
    "LaMP-1": _answer_citation,
    "LaMP-2": _majority("tag"),
    "LaMP-2-old": _majority("category"),
    "LaMP-3": _answer_rating,
    "LaMP-4": _answer_top_title,
    "LaMP-5": _answer_top_title,
    "LaMP-6": _answer_top_title,
    "LaMP-7": _answer_input,
}
"""How the reader answers each task (a new task registers its rule here)."""


def reader_tasks() -> list[str]:
    """Task names the reader answers."""
    return [name for name in task_names() if name in ANSWERS]


def _known_task(name: str) -> Task:
    try:
        task = get_task(name)
    except ValueError:
        raise GenerationError(
            f"the profile reader does not know task {name!r}; known: {', '.join(ANSWERS)}"
        ) from None
    if task.name not in ANSWERS:
        raise GenerationError(f"the profile reader has no answer rule for {task.name}")
    return task


def reader_input(prompt: str, task: str | None = None) -> ReaderInput:
    """What the reader answers ``prompt`` from (see the module docstring)."""
    if isinstance(prompt, TaskPrompt):
        return ReaderInput(_known_task(prompt.task), prompt.input, prompt.items)
    if task is not None:
        return ReaderInput(_known_task(task), prompt)
    tasks = [get_task(name) for name in reader_tasks()]
    for candidate in tasks:
        if candidate.instruction and prompt.startswith(candidate.instruction):
            return ReaderInput(candidate, prompt)
    if any(candidate.instruction and candidate.instruction in prompt for candidate in tasks):
        raise GenerationError(
            "the profile reader got a rendered prompt with retrieved items as plain text; give "
            "it the prompt Task.prompt returns (which carries its items)"
        )
    raise GenerationError(
        f"the profile reader cannot tell the LaMP task of prompt {prompt[:80]!r}: it starts "
        "with no task's instruction; give it the prompts Task.prompt returns (ropg-feedback "
        "and the benchmark do), or name the task of plain inputs with the task option "
        f"(--llm-option task=LaMP-k, with LaMP-k one of {', '.join(reader_tasks())})"
    )


class ProfileReader(BaseGenerator):
    """The retrieval-only reader backend (``reader:profile``); see the module docstring.

    Args:
        config: decoding config; only ``max_new_tokens`` (a word cap on copied input text)
            and ``stop`` matter.
        task, default_label, round_rating: see :class:`ReaderOptions`.
    """

    backend = "reader"

    def __init__(
        self,
        config: GenerationConfig | None = None,
        *,
        task: str | None = None,
        default_label: str | None = None,
        round_rating: bool = True,
        show_progress: bool = False,
        name: str | None = None,
    ) -> None:
        super().__init__(
            config or GenerationConfig(num_beams=1, batch_size=256),
            show_progress=show_progress,
            name=name or "reader:profile",
        )
        if task is not None:
            task = _known_task(task).name
        if default_label is not None and task is not None:
            labels = get_task(task).labels
            if labels and default_label not in labels:
                raise GenerationError(f"default_label {default_label!r} is not a {task} label")
        self.options = ReaderOptions(task, default_label, bool(round_rating))
        self.tokenizer = WordTokenizer()

    @classmethod
    def from_spec(cls, target: str, **options: Any) -> ProfileReader:
        """Build from the part of ``reader:TARGET`` after the colon (``profile``)."""
        if target not in MODES:
            raise GenerationError(f"unknown reader {target!r}; choose one of {', '.join(MODES)}")
        return cls(**options)

    def model_identity(self) -> dict[str, Any]:
        return {
            "model": "profile",
            "version": READER_VERSION,
            "task": self.options.task,
            "default_label": self.options.default_label,
            "round_rating": self.options.round_rating,
        }

    def answer(self, prompt: str, config: GenerationConfig | None = None) -> str:
        """The reader's output for one prompt."""
        config = config or self.config
        read = reader_input(prompt, self.options.task)
        output = ANSWERS[read.task.name](read, self.options, config.max_new_tokens)
        return apply_stop(output, config.stop)

    def _generate(
        self, prompts: list[str], config: GenerationConfig, on_batch: BatchCallback | None
    ) -> list[str]:
        outputs = [self.answer(prompt, config) for prompt in prompts]
        if on_batch is not None:
            on_batch(list(range(len(prompts))), outputs)
        return outputs
