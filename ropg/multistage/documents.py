"""Users' documents and the passage-completion examples built from them (the paper's rules).

A :class:`Document` is one text a user wrote (title, body, date). :func:`build_splits` turns a
collection of documents into the paper's passage-completion task:

- a document is a **target** when its full text (title and body joined by one space) is
  longer than ``min_document_chars`` (300) and its author has at least
  ``min_earlier_documents`` (2) documents written before it;
- the **immediate context** (the example's input) is its first ``context_chars`` (150)
  characters, the **target** (the gold) the rest, so ``input + gold`` is the whole text;
- the **personal context** (the profile) is every earlier document of the same user, oldest
  first. "Earlier" compares ``(date, position)`` when every document of the user has a date
  (equal dates in the order a builder read them), else the position alone;
- users with fewer than ``min_examples_per_user`` (5) targets are dropped; at most
  ``max_examples_per_user`` (50) are kept per user (a seeded random choice, kept in date
  order);
- users are split 85/5/10 into train/dev/test (``split_fractions``): the qualifying users are
  sorted by id, shuffled with ``seed``, and cut at ``round(n * 0.85)`` and
  ``round(n * 0.90)``, so test users are never seen in training.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ropg.core.protocols import SplitMethods
from ropg.errors import DataError, UserError

logger = logging.getLogger(__name__)

SPLITS = ("train", "dev", "test")
CONTEXT_CUTS = ("char", "word")


@dataclass(frozen=True)
class Document:
    """One document of one user.

    Attributes:
        user_id: the author.
        id: unique within the user.
        text: the body.
        title: the title ("" when none).
        date: a sortable date (ISO strings, years or numbers); None when unknown.
        position: the order the builder read it (orders undated documents and equal dates).
    """

    user_id: str
    id: str
    text: str
    title: str = ""
    date: Any = None
    position: int = 0

    @property
    def full_text(self) -> str:
        """Title and body joined by one space (the body alone when there is no title)."""
        return f"{self.title} {self.text}" if self.title else self.text

    def item(self) -> dict[str, Any]:
        """The profile item of this document: ``id``, ``title``, ``text`` (and ``date``)."""
        item: dict[str, Any] = {"id": self.id, "title": self.title, "text": self.text}
        if self.date is not None:
            item["date"] = self.date
        return item


@dataclass
class PassageExample:
    """One passage-completion example (:class:`~ropg.core.protocols.ExampleLike`).

    Attributes:
        id: ``{user_id}/{document id}``.
        input: the immediate context (the first ``context_chars`` characters).
        profile: the user's earlier documents as items (``id``, ``title``, ``text``, ``date``).
        user_id: the author.
        gold: the rest of the document (None when unknown).
    """

    id: str
    input: str
    profile: list[dict[str, Any]]
    user_id: str | None = None
    gold: str | None = None

    def to_record(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class PassageSplit(SplitMethods):
    """The examples of one split (:class:`~ropg.core.protocols.SplitLike`)."""

    task: Any
    split: str
    examples: list[PassageExample]
    questions_path: str | None = None

    @property
    def users(self) -> list[str]:
        """The distinct users, in example order."""
        return list(dict.fromkeys(str(example.user_id) for example in self.examples))

    def golds(self) -> list[str]:
        if not self.has_golds:
            raise UserError(f"passage completion {self.split}: no gold continuations")
        return [str(example.gold) for example in self.examples]


@dataclass(frozen=True)
class PassageRules:
    """The paper's data rules, each a setting (defaults: the paper's values)."""

    context_chars: int = 150
    context_cut: str = "char"
    min_document_chars: int = 300
    min_earlier_documents: int = 2
    min_examples_per_user: int = 5
    max_examples_per_user: int | None = 50
    split_fractions: tuple[float, float, float] = (0.85, 0.05, 0.10)
    seed: int = 0

    def __post_init__(self) -> None:
        fractions = tuple(float(value) for value in self.split_fractions)
        object.__setattr__(self, "split_fractions", fractions)
        if self.context_cut not in CONTEXT_CUTS:
            raise UserError(f"context_cut must be one of {CONTEXT_CUTS}, got {self.context_cut!r}")
        if self.context_chars < 1:
            raise UserError("context_chars must be >= 1")
        if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
            raise UserError(f"split_fractions must be 3 shares summing to 1, got {fractions}")
        if self.max_examples_per_user is not None and self.max_examples_per_user < 1:
            raise UserError("max_examples_per_user must be >= 1 or None")


def cut_context(text: str, chars: int, mode: str = "char") -> tuple[str, str]:
    """``(immediate context, rest)`` of ``text``: the first ``chars`` characters (``char``), or
    up to the last whitespace within them (``word``; the plain cut when there is none)."""
    if mode == "word" and len(text) > chars:
        space = text.rfind(" ", 0, chars + 1)
        if space > 0:
            return text[:space], text[space:]
    return text[:chars], text[chars:]


def by_user(documents: Iterable[Document]) -> dict[str, list[Document]]:
    """Documents grouped by user, each user's in writing order (``(date, position)``)."""
    groups: dict[str, list[Document]] = defaultdict(list)
    for document in documents:
        groups[document.user_id].append(document)
    for user, docs in groups.items():
        if all(document.date is not None for document in docs):
            try:
                docs.sort(key=lambda d: (d.date, d.position))
            except TypeError:
                raise UserError(f"user {user!r}: dates of mixed types cannot be ordered") from None
        else:
            docs.sort(key=lambda d: d.position)
    return dict(groups)


def user_examples(documents: Sequence[Document], rules: PassageRules) -> list[PassageExample]:
    """The target examples of one user's documents (in writing order), before per-user rules."""
    examples = []
    for position, document in enumerate(documents):
        text = document.full_text
        if len(text) <= rules.min_document_chars or position < rules.min_earlier_documents:
            continue
        context, rest = cut_context(text, rules.context_chars, rules.context_cut)
        examples.append(
            PassageExample(
                id=f"{document.user_id}/{document.id}",
                input=context,
                profile=[earlier.item() for earlier in documents[:position]],
                user_id=document.user_id,
                gold=rest,
            )
        )
    return examples


def apply_user_rules(
    examples_by_user: Mapping[str, list[PassageExample]], rules: PassageRules
) -> dict[str, list[PassageExample]]:
    """Users with at least ``min_examples_per_user`` examples, at most
    ``max_examples_per_user`` each (a seeded random choice per user, in the original order)."""
    kept = {}
    for user in sorted(examples_by_user):
        examples = examples_by_user[user]
        if len(examples) < rules.min_examples_per_user:
            continue
        limit = rules.max_examples_per_user
        if limit is not None and len(examples) > limit:
            rng = random.Random(f"{rules.seed}:{user}")
            chosen = sorted(rng.sample(range(len(examples)), limit))
            examples = [examples[i] for i in chosen]
        kept[user] = examples
    return kept


def split_users(users: Iterable[str], fractions: Sequence[float], seed: int) -> dict[str, str]:
    """``{user: split}``: users sorted, shuffled with ``seed``, cut by the cumulative shares."""
    ordered = sorted(set(users))
    random.Random(seed).shuffle(ordered)
    first = round(len(ordered) * fractions[0])
    second = round(len(ordered) * (fractions[0] + fractions[1]))
    assignment = {}
    for index, user in enumerate(ordered):
        assignment[user] = "train" if index < first else "dev" if index < second else "test"
    return assignment


def build_splits(
    documents: Iterable[Document], rules: PassageRules, task: Any = None
) -> dict[str, PassageSplit]:
    """The train/dev/test passage-completion splits of a document collection (module doc)."""
    grouped = by_user(documents)
    candidates = {user: user_examples(docs, rules) for user, docs in grouped.items()}
    kept = apply_user_rules(candidates, rules)
    if not kept:
        found = sum(len(examples) for examples in candidates.values())
        raise UserError(
            f"no passage-completion examples: {len(grouped)} users, {found} documents pass the "
            f"length ({rules.min_document_chars}) and earlier-document "
            f"({rules.min_earlier_documents}) rules, but no user has "
            f"min_examples_per_user={rules.min_examples_per_user} of them"
        )
    assignment = split_users(kept, rules.split_fractions, rules.seed)
    splits = {name: PassageSplit(task, name, []) for name in SPLITS}
    for user in sorted(kept):
        splits[assignment[user]].examples.extend(kept[user])
    logger.info(
        "passage completion: %s examples (train/dev/test) from %d users",
        "/".join(str(len(splits[name])) for name in SPLITS),
        len(kept),
    )
    return splits


# -- files ----------------------------------------------------------------------------------------
def write_split(path: str | Path, split: PassageSplit, meta: Mapping[str, Any]) -> None:
    """Write a split as JSONL (a ``{"meta": ...}`` header line, then one example a line)."""
    from ropg.utils.io import atomic_open

    with atomic_open(path) as stream:
        stream.write(json.dumps({"meta": dict(meta)}, ensure_ascii=False, sort_keys=True) + "\n")
        for example in split.examples:
            stream.write(json.dumps(example.to_record(), ensure_ascii=False) + "\n")


def read_split(path: str | Path, task: Any = None, split: str | None = None) -> PassageSplit:
    """Read a split written by :func:`write_split` (the split name from the file name)."""
    path = Path(path)
    examples = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    for index, line in enumerate(lines[1:], start=1):
        try:
            record = json.loads(line)
            examples.append(PassageExample(**record))
        except (json.JSONDecodeError, TypeError) as error:
            raise DataError(
                path, f"not a passage-completion example ({error})", index=index
            ) from None
    return PassageSplit(task, split or path.stem, examples, str(path))
