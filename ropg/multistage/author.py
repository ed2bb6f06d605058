"""Author distinction: the auxiliary task of the multitask generator.

Pairs of passages are labelled ``true`` (two documents of one user) or ``false`` (one document
each of two users), exactly half each (even positions true before the shuffle). Training pairs
come only from **eligible users**: users of the training split that appear in no other split (in
a temporal setting the same user can be in train and test; such users are never used). The
input is :func:`ropg.multistage.prompts.author_input` ("Predict whether two passages are from
the same author. passage 1: ... passage 2: ..."), the target ``true``/``false``;
:func:`mix_tasks` mixes the pairs with the generation examples (``ratio`` author pairs per
generation example, 1:1 in the paper).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ropg.errors import UserError
from ropg.multistage.prompts import AUTHOR_INSTRUCTION, author_input
from ropg.multistage.ranking import document_text

LABELS = ("true", "false")


@dataclass(frozen=True)
class AuthorPair:
    """Two passages, their authors and whether they are the same."""

    first: str
    second: str
    first_user: str
    second_user: str

    @property
    def label(self) -> str:
        return "true" if self.first_user == self.second_user else "false"


def eligible_users(splits: Mapping[str, object], split: str = "train") -> list[str]:
    """Users of ``split`` that appear in no other split, sorted."""
    if split not in splits:
        raise UserError(f"no {split!r} split to take author pairs from")
    others = {
        user
        for name, other in splits.items()
        if name != split
        for user in other.users  # type: ignore[attr-defined]
    }
    return sorted(set(splits[split].users) - others)  # type: ignore[attr-defined]


def user_documents(split: object, users: Sequence[str]) -> dict[str, list[str]]:
    """The distinct document texts of each of ``users`` in ``split`` (targets and profiles)."""
    allowed = set(users)
    found: dict[str, dict[str, str]] = {user: {} for user in sorted(allowed)}
    for example in split.examples:  # type: ignore[attr-defined]
        user = str(example.user_id)
        if user not in allowed:
            continue
        texts = found[user]
        texts.setdefault(str(example.id), example.input + (example.gold or ""))
        for item in example.profile:
            texts.setdefault(f"{user}/{item['id']}", document_text(item))
    return {user: list(texts.values()) for user, texts in found.items() if texts}


def sample_author_pairs(
    documents: Mapping[str, Sequence[str]], count: int, seed: int = 0
) -> list[AuthorPair]:
    """``count`` pairs, half same-author, from ``{user: document texts}`` (seeded)."""
    if count <= 0:
        return []
    users = sorted(user for user, texts in documents.items() if texts)
    prolific = [user for user in users if len(documents[user]) >= 2]
    if len(users) < 2 or not prolific:
        raise UserError(
            "author pairs need two users and one user with two documents; "
            f"got {len(users)} users, {len(prolific)} with two documents"
        )
    rng = random.Random(seed)
    pairs = []
    for index in range(count):
        if index % 2 == 0:
            user = rng.choice(prolific)
            first, second = rng.sample(list(documents[user]), 2)
            pairs.append(AuthorPair(first, second, user, user))
        else:
            user_a, user_b = rng.sample(users, 2)
            pairs.append(
                AuthorPair(
                    rng.choice(documents[user_a]), rng.choice(documents[user_b]), user_a, user_b
                )
            )
    rng.shuffle(pairs)
    return pairs


def pair_examples(
    pairs: Sequence[AuthorPair], passage_chars: int = 500, instruction: str = AUTHOR_INSTRUCTION
) -> list[tuple[str, str]]:
    """``(input, target)`` of each pair, each passage cut to ``passage_chars`` characters."""
    return [
        (author_input(p.first[:passage_chars], p.second[:passage_chars], instruction), p.label)
        for p in pairs
    ]


def mix_tasks(
    generation: Sequence[tuple[str, str]],
    author: Sequence[tuple[str, str]],
    seed: int = 0,
) -> list[tuple[str, str]]:
    """Generation and author examples shuffled together (seeded)."""
    mixed = [*generation, *author]
    random.Random(seed).shuffle(mixed)
    return mixed


def author_accuracy(predictions: Sequence[str], pairs: Sequence[AuthorPair]) -> float:
    """Share of predictions whose first word is the pair's label."""
    if len(predictions) != len(pairs):
        raise UserError(f"{len(predictions)} predictions for {len(pairs)} author pairs")
    if not pairs:
        return 0.0
    first_words = [(prediction.strip().lower().split() or [""])[0] for prediction in predictions]
    return sum(word == pair.label for word, pair in zip(first_words, pairs)) / len(pairs)
