"""Synthesize: the important words of the personal context (the paper's keyword stage).

**Words.** Lower-cased runs of letters and digits, with inner apostrophes (``don't``):
:func:`words`.

**IDF.** ``ln(N / df)`` over an IDF corpus of ``N`` documents (by default the distinct profile
documents of the training split); a word the corpus lacks counts ``df = 1``.

**Context-independent keywords** (:func:`frequent_keywords`): the words of the personal context
(the user's earlier documents, or the ranked entries) without stopwords, without words seen
fewer than ``min_frequency`` (2) times and without words of IDF below ``min_idf`` (1.5); sorted
by frequency, then IDF (both descending), then alphabetically; at most ``max_words`` (20).

**Context-dependent weak labels** (:func:`keyword_label`): the words of the retrieved entries
that match a word of the ground-truth document (identical, a WordNet synonym, or an embedding
cosine similarity of at least ``embedding_threshold``), with the same stopword and IDF filters
(on both sides), sorted by how often they were selected (their count in the entries), then IDF,
then alphabetically; at most ``max_words``. WordNet is used when NLTK and its WordNet data are
installed (an optional extra); the word vectors of an encoder of the retriever pool stand in for
the paper's GloVe distance. :meth:`WordMatcher.describe` says which were used (it is part of
the stage's key, so labels made with and without WordNet are never mixed).
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
SYNONYM_SOURCES = ("auto", "wordnet", "none")


def words(text: str) -> list[str]:
    """The lower-cased words of ``text``, in order."""
    return _WORD.findall(str(text).lower())


@dataclass(frozen=True)
class IdfTable:
    """Document frequencies of an IDF corpus; :meth:`idf` is ``ln(N / df)`` (df >= 1)."""

    n_documents: int
    document_frequency: Mapping[str, int]

    @classmethod
    def build(cls, documents: Iterable[str]) -> IdfTable:
        frequency: Counter[str] = Counter()
        count = 0
        for document in documents:
            frequency.update(set(words(document)))
            count += 1
        return cls(count, dict(frequency))

    def idf(self, word: str) -> float:
        return math.log(max(self.n_documents, 1) / max(self.document_frequency.get(word, 1), 1))

    def to_json(self) -> dict[str, Any]:
        return {
            "n_documents": self.n_documents,
            "df": dict(sorted(self.document_frequency.items())),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> IdfTable:
        return cls(int(data["n_documents"]), {str(k): int(v) for k, v in data["df"].items()})


@dataclass(frozen=True)
class KeywordRules:
    """The filters and the cap shared by both keyword kinds (the paper's values)."""

    min_frequency: int = 2
    min_idf: float = 1.5
    max_words: int = 20


def _keeps(word: str, idf: IdfTable, stopwords: frozenset[str], rules: KeywordRules) -> bool:
    return word not in stopwords and idf.idf(word) >= rules.min_idf


def frequent_keywords(
    texts: Sequence[str], idf: IdfTable, stopwords: frozenset[str], rules: KeywordRules
) -> list[str]:
    """The context-independent keywords of the personal context ``texts`` (module doc)."""
    counts = Counter(word for text in texts for word in words(text))
    kept = [
        (word, count)
        for word, count in counts.items()
        if count >= rules.min_frequency and _keeps(word, idf, stopwords, rules)
    ]
    kept.sort(key=lambda pair: (-pair[1], -idf.idf(pair[0]), pair[0]))
    return [word for word, _ in kept[: rules.max_words]]


@lru_cache(maxsize=1)
def wordnet_synonyms() -> Callable[[str], frozenset[str]] | None:
    """A synonym lookup over NLTK's WordNet, or None when NLTK or its data is not installed."""
    try:
        from nltk.corpus import wordnet

        wordnet.synsets("good")
    except (ImportError, LookupError, OSError):
        logger.info("WordNet is not installed: keyword matches use identity and embeddings only")
        return None

    @cache
    def synonyms(word: str) -> frozenset[str]:
        names = (lemma.name().lower() for s in wordnet.synsets(word) for lemma in s.lemmas())
        return frozenset(name for name in names if "_" not in name and name != word)

    return synonyms


class WordMatcher:
    """Which retrieved words match gold words: identical, WordNet synonyms, embedding cosine.

    Args:
        synonyms: a ``word -> synonyms`` lookup (None: no synonyms).
        embed: ``list of words -> vectors`` (None: no embedding match).
        embedding_threshold: the cosine similarity from which two words match.
        embedding_identity: what the vectors are (for :meth:`describe`).
    """

    def __init__(
        self,
        synonyms: Callable[[str], frozenset[str]] | None = None,
        embed: Callable[[list[str]], np.ndarray] | None = None,
        embedding_threshold: float = 0.75,
        embedding_identity: Any = None,
    ) -> None:
        self.synonyms = synonyms
        self.embed = embed
        self.embedding_threshold = float(embedding_threshold)
        self.embedding_identity = embedding_identity
        self._vectors: dict[str, np.ndarray] = {}

    def describe(self) -> dict[str, Any]:
        """What matches words (recorded with the labels)."""
        return {
            "identical": True,
            "synonyms": "wordnet" if self.synonyms is not None else "none",
            "embedding": self.embedding_identity if self.embed is not None else None,
            "embedding_threshold": self.embedding_threshold if self.embed is not None else None,
        }

    def prepare(self, vocabulary: Iterable[str]) -> None:
        """Embed (once) every word that will be compared."""
        if self.embed is None:
            return
        missing = sorted(set(vocabulary) - set(self._vectors))
        if missing:
            vectors = np.asarray(self.embed(missing), dtype=np.float32)
            norms = np.linalg.norm(vectors, axis=1, keepdims=True)
            vectors = vectors / np.maximum(norms, 1e-12)
            self._vectors.update(zip(missing, vectors))

    def matched(self, candidates: Iterable[str], gold: Iterable[str]) -> set[str]:
        """The candidates that match some gold word."""
        gold_set = set(gold)
        found = {word for word in candidates if word in gold_set}
        rest = sorted(set(candidates) - found)
        if self.synonyms is not None:
            for word in rest:
                if self.synonyms(word) & gold_set:
                    found.add(word)
            rest = [word for word in rest if word not in found]
        if self.embed is not None and rest and gold_set:
            self.prepare([*rest, *gold_set])
            left = np.stack([self._vectors[word] for word in rest])
            right = np.stack([self._vectors[word] for word in sorted(gold_set)])
            best = (left @ right.T).max(axis=1)
            found.update(
                word for word, score in zip(rest, best) if score >= self.embedding_threshold
            )
        return found


def keyword_label(
    retrieved: Sequence[str],
    gold_document: str,
    idf: IdfTable,
    stopwords: frozenset[str],
    rules: KeywordRules,
    matcher: WordMatcher,
) -> list[str]:
    """The context-dependent weak label of one example (module docstring)."""
    retrieved_words = [word for text in retrieved for word in words(text)]
    candidates = {word for word in retrieved_words if _keeps(word, idf, stopwords, rules)}
    gold = {word for word in words(gold_document) if _keeps(word, idf, stopwords, rules)}
    matched = matcher.matched(candidates, gold)
    counts = Counter(word for word in retrieved_words if word in matched)
    ordered = sorted(counts.items(), key=lambda pair: (-pair[1], -idf.idf(pair[0]), pair[0]))
    return [word for word, _ in ordered[: rules.max_words]]


def resolve_synonyms(source: str) -> Callable[[str], frozenset[str]] | None:
    """The synonym lookup for ``auto`` (WordNet when installed), ``wordnet`` (required) or
    ``none``."""
    from ropg.errors import UserError

    if source not in SYNONYM_SOURCES:
        raise UserError(f"synonyms must be one of {SYNONYM_SOURCES}, got {source!r}")
    if source == "none":
        return None
    lookup = wordnet_synonyms()
    if lookup is None and source == "wordnet":
        raise UserError(
            "synonyms=wordnet needs NLTK with its WordNet data (pip install nltk; then put the "
            "wordnet corpus under NLTK_DATA, e.g. from Debian's wordnet-base); or use auto/none"
        )
    return lookup
