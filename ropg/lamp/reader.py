"""``reader:profile``: a retrieval-only baseline that answers from the retrieved items alone.

No language model is involved. The reader gets the same prompts an LLM would get, parses the
retrieved profile items back out of them (every LaMP prompt format is deterministic, see
:mod:`ropg.lamp.prompts`) and answers:

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

"The input text" is the input with its instruction removed, cut to ``max_new_tokens`` words.
Better retrieval gives better numbers, so the reader makes a whole retrieval pipeline
meaningful, and fast, on a CPU. The task is detected from the fixed instruction text of the
input; the ``task`` option forces one.

Its :attr:`ProfileReader.tokenizer` is a :class:`~ropg.generation.words.WordTokenizer`, so
prompt budgets count words unless another prompt tokenizer is given.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ropg.generation.base import BaseGenerator, BatchCallback, GenerationConfig, apply_stop
from ropg.generation.errors import GenerationError
from ropg.generation.words import WordTokenizer
from ropg.lamp.tasks import MOVIE_TAGS, NEWS_CATEGORIES, get_task

READER_VERSION = 1
MODES = ("profile",)
_WORD = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset(
    "a an and are as at be by for from in is it of on or the to with".split()
)  # fmt: skip


@dataclass(frozen=True)
class ParsedPrompt:
    """What the reader recovers from a prompt.

    Attributes:
        task: the detected (or forced) task name.
        input: the original task input (instruction included).
        body: the input's variable text (after the instruction marker), stripped.
        values: per retrieved item in rank order, the value the answer uses (a label, a
            score, a title); empty when the prompt has no items.
        references: LaMP-1's two candidate reference titles.
    """

    task: str
    input: str
    body: str
    values: tuple[str, ...] = ()
    references: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReaderOptions:
    """Answer settings (all part of the reader's identity).

    Attributes:
        task: force this task's prompt format instead of detecting it.
        default_label: LaMP-2/LaMP-2-old answer without items (default: the first label).
        round_rating: LaMP-3 answers the rounded mean (a valid label) instead of the mean.
    """

    task: str | None = None
    default_label: str | None = None
    round_rating: bool = True


@dataclass(frozen=True)
class PromptFormat:
    """How one task's prompt is laid out and answered.

    Attributes:
        task: canonical task name.
        marker: the fixed instruction text the task input starts with.
        suffix: the text between the joined items and the input (``"{joined}{suffix}{input}"``).
        item: a regex finding each item's used value (group ``value``) in the joined items.
        answer: ``(parsed, options, max_words) -> output``.
        labels: the label list (classification tasks).
    """

    task: str
    marker: str
    suffix: str
    item: re.Pattern[str] | None
    answer: Callable[[ParsedPrompt, ReaderOptions, int], str]
    labels: tuple[str, ...] = ()

    def locate(self, prompt: str) -> int | None:
        """Where the task input starts in ``prompt`` (None when this is not its format)."""
        if prompt.startswith(self.marker):
            return 0
        position = prompt.find(self.suffix + self.marker)
        return None if position == -1 else position + len(self.suffix)

    def parse(self, prompt: str, start: int) -> ParsedPrompt:
        """Split ``prompt`` (whose input starts at ``start``) into items and input."""
        task_input = prompt[start:]
        body = task_input[len(self.marker) :].strip() if task_input.startswith(self.marker) else ""
        values: tuple[str, ...] = ()
        if start > 0 and self.item is not None:
            joined = prompt[: start - len(self.suffix)]
            values = tuple(match.group("value") for match in self.item.finditer(joined))
        return ParsedPrompt(self.task, task_input, body or task_input.strip(), values)


def _words(text: str) -> list[str]:
    return [word for word in _WORD.findall(text.lower()) if word not in _STOPWORDS]


def _first_words(text: str, count: int) -> str:
    words = text.split()
    return " ".join(words[:count])


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


def _answer_citation(parsed: ParsedPrompt, options: ReaderOptions, max_words: int) -> str:
    if not parsed.values or len(parsed.references) != 2:
        return "[1]"
    first, second = (_similarity(ref, parsed.values) for ref in parsed.references)
    return "[2]" if second > first else "[1]"


def _majority(labels: tuple[str, ...]) -> Callable[[ParsedPrompt, ReaderOptions, int], str]:
    def answer(parsed: ParsedPrompt, options: ReaderOptions, max_words: int) -> str:
        if not parsed.values:
            return options.default_label or labels[0]
        counts = Counter(parsed.values)
        best = max(counts.values())
        return next(value for value in parsed.values if counts[value] == best)

    return answer


def _answer_rating(parsed: ParsedPrompt, options: ReaderOptions, max_words: int) -> str:
    scores = []
    for value in parsed.values:
        try:
            scores.append(float(value))
        except ValueError:
            continue
    if not scores:
        return "3"
    mean = sum(scores) / len(scores)
    if options.round_rating:
        return str(math.floor(mean + 0.5))
    return f"{mean:g}"


def _answer_top_title(parsed: ParsedPrompt, options: ReaderOptions, max_words: int) -> str:
    if parsed.values:
        return parsed.values[0].strip()
    return _first_words(parsed.body, max_words)


def _answer_input(parsed: ParsedPrompt, options: ReaderOptions, max_words: int) -> str:
    return _first_words(parsed.body, max_words)


def _label_item(prefix: str, labels: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(label) for label in sorted(labels, key=len, reverse=True))
    return re.compile(
        rf'{re.escape(prefix)} "(?:.*?)" is "(?P<value>{alternatives})" (?=, and |$)', re.DOTALL
    )


def _title_item(phrase: str) -> re.Pattern[str]:
    return re.compile(rf'(?:^|" , and )"(?P<value>.*?)" {re.escape(phrase)} "', re.DOTALL)


_CITATION_MARKER = "For an author who has written the paper with the title"
_CITATION_TAIL = re.compile(r'", which reference is related\?')
_CITATION_REFERENCES = re.compile(r'\[1\]: "(?P<first>.*)" \[2\]: "(?P<second>.*)"\s*$', re.DOTALL)


def _parse_citation(prompt: str) -> ParsedPrompt:
    """LaMP-1: items are inserted after the first ``title`` as ``, and "t1", and "t2"``."""
    head = _CITATION_MARKER
    rest = prompt[len(head) :]
    values: list[str] = []
    tail = _CITATION_TAIL.search(rest)
    if rest.startswith(', and "') and tail is not None:
        region = rest[len(', and "') : tail.start()]
        last_quote = region.rfind('" "')
        items = region[:last_quote] if last_quote != -1 else ""
        values = [value for value in items.split('", and "') if value]
        task_input = head + rest[len(', and "') + last_quote + 1 :]
    else:
        task_input = prompt
    references = _CITATION_REFERENCES.search(prompt)
    refs = (references.group("first"), references.group("second")) if references else ()
    return ParsedPrompt("LaMP-1", task_input, task_input, tuple(values), refs)


def _suffix(task: str) -> str:
    """The text between the joined items and the input, from the task's own prompt template."""
    assembly = get_task(task).template.assembly
    return assembly.split("{joined}", 1)[1].split("{input}", 1)[0]


_FORMATS: dict[str, PromptFormat] = {
    fmt.task: fmt
    for fmt in (
        PromptFormat("LaMP-1", _CITATION_MARKER, "", None, _answer_citation, ("[1]", "[2]")),
        PromptFormat(
            "LaMP-2",
            "Which tag does this movie relate to among the following tags?",
            _suffix("LaMP-2"),
            _label_item("the tag for the movie:", MOVIE_TAGS),
            _majority(MOVIE_TAGS),
            MOVIE_TAGS,
        ),
        PromptFormat(
            "LaMP-2-old",
            "Which category does this article relate to among the following categories?",
            _suffix("LaMP-2-old"),
            _label_item("the category for the article:", NEWS_CATEGORIES),
            _majority(NEWS_CATEGORIES),
            NEWS_CATEGORIES,
        ),
        PromptFormat(
            "LaMP-3",
            "What is the score of the following review on a scale of 1 to 5?",
            _suffix("LaMP-3"),
            re.compile(r'(?:^|" , and )(?P<value>[^\s"]+) is the score for "'),
            _answer_rating,
        ),
        PromptFormat(
            "LaMP-4",
            "Generate a headline for the following article:",
            _suffix("LaMP-4"),
            _title_item("is the title for"),
            _answer_top_title,
        ),
        PromptFormat(
            "LaMP-5",
            "Generate a title for the following abstract of a paper:",
            _suffix("LaMP-5"),
            _title_item("is a title for"),
            _answer_top_title,
        ),
        PromptFormat(
            "LaMP-6",
            "Generate a subject for the following email:",
            _suffix("LaMP-6"),
            _title_item("is the title for"),
            _answer_top_title,
        ),
        PromptFormat(
            "LaMP-7",
            "Paraphrase the following tweet without any explanation before or after it:",
            _suffix("LaMP-7"),
            None,
            _answer_input,
        ),
    )
}
_ALIASES = {re.sub(r"[\s_\-]", "", name).lower(): name for name in _FORMATS}


def reader_tasks() -> list[str]:
    """Task names whose prompts the reader understands."""
    return list(_FORMATS)


def _format_for(task: str) -> PromptFormat:
    name = _ALIASES.get(re.sub(r"[\s_\-]", "", task).lower())
    if name is None:
        raise GenerationError(
            f"the profile reader does not know task {task!r}; known: {', '.join(_FORMATS)}"
        )
    return _FORMATS[name]


def parse_prompt(prompt: str, task: str | None = None) -> ParsedPrompt:
    """Recover the task, input, retrieved items and (LaMP-1) references of a LaMP prompt.

    Without ``task``, the task is the one whose instruction starts the input earliest in the
    prompt; an unknown prompt is a :class:`GenerationError`.
    """
    if task is not None:
        fmt = _format_for(task)
        if fmt.task == "LaMP-1":
            return _parse_citation(prompt)
        start = fmt.locate(prompt)
        if start is None:
            return ParsedPrompt(fmt.task, prompt, prompt.strip())
        return fmt.parse(prompt, start)
    found = [(start, fmt) for fmt in _FORMATS.values() if (start := fmt.locate(prompt)) is not None]
    if not found:
        raise GenerationError(
            f"the profile reader cannot tell the LaMP task of prompt {prompt[:80]!r}; "
            "give the task option (e.g. task='LaMP-2')"
        )
    start, fmt = min(found, key=lambda pair: pair[0])
    return _parse_citation(prompt) if fmt.task == "LaMP-1" else fmt.parse(prompt, start)


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
            task = _format_for(task).task
        if default_label is not None and task is not None:
            labels = _format_for(task).labels
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
        parsed = parse_prompt(prompt, self.options.task)
        output = _FORMATS[parsed.task].answer(parsed, self.options, config.max_new_tokens)
        return apply_stop(output, config.stop)

    def _generate(
        self, prompts: list[str], config: GenerationConfig, on_batch: BatchCallback | None
    ) -> list[str]:
        outputs = [self.answer(prompt, config) for prompt in prompts]
        if on_batch is not None:
            on_batch(list(range(len(prompts))), outputs)
        return outputs
