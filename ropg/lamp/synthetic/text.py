"""Pseudo-text helpers: topical sentences, long texts, dates and ids from a seeded RNG."""

from __future__ import annotations

import random
from collections.abc import Sequence

from ropg.lamp.synthetic.vocab import FILLER, TOPICS, UNICODE_BITS

UNICODE_RATE = 0.04
LONG_TEXT_WORDS = 620


class TextMaker:
    """Makes deterministic pseudo-text from one :class:`random.Random`.

    Sentences mix topic words (which carry the retrieval signal), filler words (noise shared by
    every topic) and the task's framing words, with an occasional non-ASCII fragment. ``focus``
    narrows a topic to a user's own subset of its words (the user's vocabulary).
    """

    def __init__(self, rng: random.Random, focus: dict[str, Sequence[str]] | None = None) -> None:
        self.rng = rng
        self.focus = dict(focus or {})

    def topic_words(self, topic: str, count: int) -> list[str]:
        """``count`` distinct words of ``topic`` (repeats only when the topic has too few)."""
        words = self.focus.get(topic, TOPICS[topic])
        if count <= len(words):
            return self.rng.sample(words, count)
        return [self.rng.choice(words) for _ in range(count)]

    def sentence(
        self,
        topic: str,
        n_topic: int,
        n_filler: int,
        framing: Sequence[str] = (),
        extra: Sequence[str] = (),
        used: list[str] | None = None,
    ) -> str:
        """One shuffled sentence; the topic words drawn are appended to ``used``."""
        chosen = self.topic_words(topic, n_topic)
        if used is not None:
            used.extend(chosen)
        words = chosen + [self.rng.choice(FILLER) for _ in range(n_filler)] + list(extra)
        if framing:
            words.append(self.rng.choice(framing))
        if self.rng.random() < UNICODE_RATE:
            words.append(self.rng.choice(UNICODE_BITS))
        self.rng.shuffle(words)
        text = " ".join(words)
        return text[:1].upper() + text[1:] + "."

    def paragraph(
        self,
        topic: str,
        n_sentences: int,
        framing: Sequence[str] = (),
        extra: Sequence[str] = (),
        used: list[str] | None = None,
    ) -> str:
        """``n_sentences`` sentences of 8-14 words; ``extra`` words go into the first one."""
        sentences = []
        for index in range(n_sentences):
            n_topic = self.rng.randint(3, 5)
            sentences.append(
                self.sentence(
                    topic,
                    n_topic,
                    self.rng.randint(4, 8),
                    framing,
                    extra if index == 0 else (),
                    used,
                )
            )
        return " ".join(sentences)

    def long_text(
        self, topic: str, framing: Sequence[str] = (), used: list[str] | None = None
    ) -> str:
        """A text of more than :data:`LONG_TEXT_WORDS` words."""
        parts: list[str] = []
        count = 0
        while count <= LONG_TEXT_WORDS:
            sentence = self.sentence(topic, 4, 8, framing, used=used)
            parts.append(sentence)
            count += len(sentence.split())
        return " ".join(parts)

    def date(self, year_only_rate: float = 0.0) -> str:
        """A date ``YYYY-MM-DD`` in 2005-2019, or (at ``year_only_rate``) a bare year."""
        year = self.rng.randint(2005, 2019)
        if self.rng.random() < year_only_rate:
            return str(year)
        return f"{year}-{self.rng.randint(1, 12):02d}-{self.rng.randint(1, 28):02d}"

    def pick(self, options: Sequence[str], used: Sequence[str], count: int) -> list[str]:
        """``count`` words from ``used`` (the text's own topic words), else from ``options``."""
        pool = list(dict.fromkeys(used)) or list(options)
        if len(pool) >= count:
            return self.rng.sample(pool, count)
        return [self.rng.choice(pool) for _ in range(count)]
