"""Sentences and snippets: a snippet is consecutive sentences of one document, at most 250
characters.

**Sentences.** A text is cut at every line break, and after every run of ``.``, ``!`` or ``?``
(with any closing quotes or brackets right after it: ``"``, ``'``, ``)``, ``]``) that is
followed by whitespace. Each piece is stripped and its inner whitespace runs made one space;
empty pieces are dropped. Nothing else ends a sentence (so ``"e.g. this"`` is cut after
``e.g.``, and ``"3.5 stars"`` is not cut).

**Snippets.** Sentences are packed greedily in order: a sentence joins the current snippet
(one space between) while the snippet stays within ``max_chars``; otherwise the snippet is
closed and the sentence starts the next one. A sentence longer than ``max_chars`` on its own is
cut into pieces of at most ``max_chars`` at spaces (a single word longer than that is cut at
``max_chars`` characters), each piece its own snippet.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

SNIPPET_CHARS = 250
_SENTENCE_END = re.compile(r"[.!?]+[\"')\]]*(?=\s)")
_LINE_BREAK = re.compile(r"[\r\n]+")


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text`` (module docstring), in order."""
    sentences = []
    for line in _LINE_BREAK.split(text):
        start = 0
        for match in _SENTENCE_END.finditer(line):
            sentences.append(line[start : match.end()])
            start = match.end()
        sentences.append(line[start:])
    cleaned = (" ".join(sentence.split()) for sentence in sentences)
    return [sentence for sentence in cleaned if sentence]


def _cut_long(sentence: str, max_chars: int) -> list[str]:
    """A sentence over ``max_chars`` as pieces of at most ``max_chars``, cut at spaces."""
    pieces = []
    rest = sentence
    while len(rest) > max_chars:
        space = rest.rfind(" ", 0, max_chars + 1)
        if space <= 0:
            pieces.append(rest[:max_chars])
            rest = rest[max_chars:].lstrip()
        else:
            pieces.append(rest[:space])
            rest = rest[space + 1 :]
    if rest:
        pieces.append(rest)
    return pieces


def pack_snippets(sentences: Sequence[str], max_chars: int = SNIPPET_CHARS) -> list[str]:
    """Consecutive sentences packed greedily into snippets of at most ``max_chars``."""
    if max_chars < 1:
        raise ValueError("max_chars must be >= 1")
    snippets: list[str] = []
    current = ""
    for sentence in sentences:
        if len(sentence) > max_chars:
            if current:
                snippets.append(current)
                current = ""
            snippets.extend(_cut_long(sentence, max_chars))
        elif not current:
            current = sentence
        elif len(current) + 1 + len(sentence) <= max_chars:
            current = f"{current} {sentence}"
        else:
            snippets.append(current)
            current = sentence
    if current:
        snippets.append(current)
    return snippets


def snippets(text: str, max_chars: int = SNIPPET_CHARS) -> list[str]:
    """The snippets of one document's text."""
    return pack_snippets(split_sentences(text), max_chars)
