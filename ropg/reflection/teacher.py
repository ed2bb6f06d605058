"""Teachers write rewriting trajectories: which profile evidence matters, what to change in g,
then the rewrite, as three tagged blocks (``<evidence>``, ``<edits>``, ``<rewrite>``).

A teacher is anything with an ``identity`` and ``teach(requests) -> [text]``:

- :class:`GeneratorTeacher` sends each request's rendered prompt to an LLM (``openai-chat:
  URL#gpt-4.1-mini`` as in the paper, a vLLM or local model), through the output cache;
- :class:`StandInTeacher` is a deterministic **stand-in** for offline tests and the quick
  start: it builds the trajectory from the gold and the profile items with simple rules. It is
  never a default; name it (``teacher: stand-in``) to use it.

The stand-in is a teacher plug-in, not a generator backend, because it needs the structured
request (gold, items, g): a generator only gets the rendered prompt, and parsing the prompt
back into items would be the render-then-parse round trip the project avoids.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ropg.reflection.formats import AnswerFormat, answer_format

TRAJECTORY_TAGS = ("evidence", "edits", "rewrite")
LABEL_FIELDS: dict[str, str] = {"LaMP-2": "tag", "LaMP-2-old": "category", "LaMP-3": "score"}
"""The profile field that holds the user's label for an item (the stand-in cites it)."""
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class TeachRequest:
    """What a teacher sees for one input.

    Attributes:
        task: the task.
        example: the example (input, profile, gold).
        generic: g.
        items: the top profile items shown (best first).
        prompt: the rendered teacher prompt (what an LLM teacher reads).
    """

    task: Any
    example: Any
    generic: str
    items: Sequence[Mapping[str, Any]]
    prompt: str


class Teacher(Protocol):
    """Writes one trajectory text per request."""

    @property
    def identity(self) -> dict[str, Any]: ...

    def teach(self, requests: Sequence[TeachRequest]) -> list[str]: ...


class GeneratorTeacher:
    """An LLM teacher: each request's prompt through an :class:`~ropg.reflection.endpoints.RpoLLM`
    (cached)."""

    def __init__(self, llm: Any) -> None:
        self.llm = llm

    @property
    def identity(self) -> dict[str, Any]:
        return {"teacher": "llm", "llm": self.llm.identity}

    def teach(self, requests: Sequence[TeachRequest]) -> list[str]:
        return self.llm.generate([request.prompt for request in requests])

    @property
    def misses(self) -> int:
        return self.llm.misses


def trajectory_text(evidence: str, edits: str, rewrite: str) -> str:
    """The three tagged blocks of a trajectory."""
    return "\n".join(
        f"<{tag}>\n{text}\n</{tag}>"
        for tag, text in zip(TRAJECTORY_TAGS, (evidence, edits, rewrite), strict=True)
    )


class StandInTeacher:
    """A deterministic stand-in teacher built from the gold and the profile (tests, quick start).

    - labels (LaMP-2 tags, LaMP-2-old categories): the items whose own label is the gold are
      the evidence; with such evidence g is replaced by the gold, without it g is kept;
    - ratings (LaMP-3): the items' scores are the evidence, the rewrite is the gold rating;
    - texts (LaMP-4..7): the gold's words found in the items are the evidence; the rewrite is
      g without its words absent from the gold, then the evidence words g lacks;
    - other labels (LaMP-1): the rewrite is the gold, citing the top item.

    Its rewrites are rules, not language: it proves the pipeline and lets tests learn, it is
    not a substitute for an LLM teacher.
    """

    identity = {"teacher": "stand-in", "version": 1}

    def teach(self, requests: Sequence[TeachRequest]) -> list[str]:
        return [self.trajectory(request) for request in requests]

    def trajectory(self, request: TeachRequest) -> str:
        form = answer_format(request.task)
        gold = str(request.example.gold)
        rule = _RULES.get(form.kind, _text_rule)
        if form.kind == "label" and request.task.name not in LABEL_FIELDS:
            rule = _gold_rule
        return trajectory_text(*rule(request, form, gold))


def _label_rule(request: TeachRequest, form: AnswerFormat, gold: str) -> tuple[str, str, str]:
    name = LABEL_FIELDS[request.task.name]
    matching = [
        n for n, item in enumerate(request.items, 1) if form.normalize(item.get(name, "")) == gold
    ]
    generic = form.normalize(request.generic) or request.generic.strip()
    if not matching:
        return "no item shows a preference", "keep the generic answer", generic
    cited = ", ".join(f"[{n}]" for n in matching)
    evidence = f"{cited} {name} {gold}"
    edits = f"keep {generic}" if generic == gold else f"change {generic} to {gold}"
    return evidence, edits, gold


def _rating_rule(request: TeachRequest, form: AnswerFormat, gold: str) -> tuple[str, str, str]:
    name = LABEL_FIELDS.get(request.task.name, "score")
    scores = [f"[{n}] {item[name]}" for n, item in enumerate(request.items, 1) if name in item]
    evidence = "the user's scores: " + (", ".join(scores) if scores else "none shown")
    generic = form.normalize(request.generic) or request.generic.strip()
    edits = f"keep {generic}" if generic == gold else f"change {generic} to {gold}"
    return evidence, edits, gold


def _text_rule(request: TeachRequest, form: AnswerFormat, gold: str) -> tuple[str, str, str]:
    gold_words = _WORD.findall(gold.lower())
    item_words = {
        word
        for item in request.items
        for value in item.values()
        for word in _WORD.findall(str(value).lower())
    }
    generic_words = request.generic.split()
    kept = [w for w in generic_words if _plain(w) in gold_words]
    present = {_plain(w) for w in kept}
    evidence_words = list(dict.fromkeys(w for w in gold_words if w in item_words))
    added = [w for w in evidence_words if w not in present]
    dropped = [w for w in generic_words if _plain(w) not in gold_words]
    rewrite = " ".join(kept + added) or request.generic.strip()
    evidence = "the user's items use: " + (" ".join(evidence_words) or "nothing in common")
    edits = f"drop: {' '.join(dropped) or 'nothing'}; add: {' '.join(added) or 'nothing'}"
    return evidence, edits, rewrite


def _gold_rule(request: TeachRequest, form: AnswerFormat, gold: str) -> tuple[str, str, str]:
    evidence = "[1] is the closest item" if request.items else "no items"
    generic = form.normalize(request.generic) or request.generic.strip()
    edits = f"keep {generic}" if generic == gold else f"change {generic} to {gold}"
    return evidence, edits, gold


def _plain(word: str) -> str:
    return "".join(_WORD.findall(word.lower()))


_RULES: dict[str, Callable[[TeachRequest, AnswerFormat, str], tuple[str, str, str]]] = {
    "label": _label_rule,
    "rating": _rating_rule,
    "text": _text_rule,
}
TEACHERS: dict[str, Callable[..., Any]] = {"stand-in": StandInTeacher}
"""Teacher plug-ins by name; any other teacher spec is a generator spec (an LLM teacher)."""


def make_teacher(spec: str, llm_factory: Callable[[], Any]) -> Any:
    """The teacher ``spec`` names: a plug-in from :data:`TEACHERS`, else an LLM teacher built
    by ``llm_factory`` (called only then)."""
    if spec in TEACHERS:
        return TEACHERS[spec]()
    return GeneratorTeacher(llm_factory())
