"""Per-task content builders: a user's stable preferences, profile items and questions.

Every builder ties the answer to the user's profile through topics: a user has three topics,
each with its own answer-relevant signal (a tag, a rating bias, a title signature, a hashtag),
and an input on one topic shares topic words with the profile items on that topic. A word-overlap
retriever therefore surfaces the items that predict the gold output.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from typing import Any

from ropg.lamp.synthetic import vocab
from ropg.lamp.synthetic.text import TextMaker
from ropg.lamp.tasks import MOVIE_TAGS, NEWS_CATEGORIES

Context = dict[str, Any]


@dataclass(frozen=True)
class UserPlan:
    """Task-independent facts about one synthetic user."""

    index: int
    user_id: str
    n_items: int
    splits: tuple[str, ...]
    topics: tuple[str, ...]
    weights: tuple[float, ...]
    compact: bool = False
    long_case: bool = False


class Builder:
    """Base class: subclasses set ``task`` and implement the three hooks."""

    task = ""
    year_only_rate = 0.0

    def prefs(self, rng: random.Random, user: UserPlan) -> Context:
        """The user's stable preferences for this task (drawn once per user)."""
        return {"user": user}

    def item(self, tm: TextMaker, ctx: Context, topic: str, size: str) -> dict[str, str]:
        """A profile item's fields (without id/date); ``size`` as in :meth:`body`."""
        raise NotImplementedError

    def question(self, tm: TextMaker, ctx: Context, topic: str, long: bool) -> tuple[str, str]:
        """An ``(input, gold)`` pair on ``topic``."""
        raise NotImplementedError

    @staticmethod
    def body(tm: TextMaker, topic: str, size: str, framing: tuple[str, ...], **kw: Any) -> str:
        """Topical text: ``compact`` (one short sentence, for huge profiles), ``normal`` (1-2
        sentences), ``input`` (1-3 sentences) or ``long`` (more than 600 words)."""
        if size == "long":
            return tm.long_text(topic, framing, used=kw.get("used"))
        if size == "compact":
            return tm.sentence(topic, 2, 2, framing, used=kw.get("used"))
        n_sentences = tm.rng.randint(1, 3) if size == "input" else 1 + (tm.rng.random() < 0.4)
        return tm.paragraph(topic, n_sentences, framing, **kw)

    @staticmethod
    def per_topic(rng: random.Random, user: UserPlan, options: tuple[str, ...]) -> dict[str, str]:
        """A distinct option for each of the user's topics."""
        chosen = rng.sample(options, len(user.topics))
        return dict(zip(user.topics, chosen))


class Citation(Builder):
    """LaMP-1: the correct reference is on one of the user's topics, the other is not."""

    task = "LaMP-1"
    year_only_rate = 0.1

    @staticmethod
    def title(tm: TextMaker, topic: str) -> str:
        a, b, c, d = tm.topic_words(topic, 4)
        return tm.rng.choice(vocab.CITATION_TEMPLATES).format(A=a.capitalize(), a=a, b=b, c=c, d=d)

    def item(self, tm: TextMaker, ctx: Context, topic: str, size: str) -> dict[str, str]:
        return {
            "title": self.title(tm, topic),
            "abstract": self.body(tm, topic, size, vocab.PAPER_WORDS),
        }

    def question(self, tm: TextMaker, ctx: Context, topic: str, long: bool) -> tuple[str, str]:
        topics = ctx["user"].topics
        other = tm.rng.choice([name for name in vocab.TOPICS if name not in topics])
        right = self.title(tm, tm.rng.choices(topics, ctx["user"].weights)[0])
        wrong = self.title(tm, other)
        first = tm.rng.random() < 0.5
        ref1, ref2 = (right, wrong) if first else (wrong, right)
        text = (
            f'For an author who has written the paper with the title "{self.title(tm, topic)}", '
            "which reference is related? Just answer with [1] or [2] without explanation. "
            f'[1]: "{ref1}" [2]: "{ref2}"'
        )
        return text, "[1]" if first else "[2]"


class Tagging(Builder):
    """LaMP-2 (movie tags) and LaMP-2-old (news categories): one favourite label per topic."""

    def __init__(self, task: str, labels: tuple[str, ...], old: bool) -> None:
        self.task = task
        self.labels = labels
        self.old = old

    def prefs(self, rng: random.Random, user: UserPlan) -> Context:
        remaining = list(self.labels)
        favourites = []
        for _ in range(3):  # the first four labels are twice as popular overall
            weights = [2.0 if self.labels.index(x) < 4 else 1.0 for x in remaining]
            favourites.append(remaining.pop(rng.choices(range(len(remaining)), weights)[0]))
        by_topic = {t: favourites[min(i, 2)] for i, t in enumerate(user.topics)}
        return {"user": user, "favourites": favourites, "by_topic": by_topic}

    def label(self, rng: random.Random, ctx: Context, topic: str, loyalty: float) -> str:
        roll = rng.random()
        if roll < loyalty:
            return ctx["by_topic"][topic]
        if roll < loyalty + (1 - loyalty) * 0.6:
            return rng.choice(ctx["favourites"])
        return rng.choice(self.labels)

    def text(self, tm: TextMaker, topic: str, size: str) -> str:
        return self.body(tm, topic, size, vocab.NEWS_WORDS if self.old else vocab.MOVIE_WORDS)

    def item(self, tm: TextMaker, ctx: Context, topic: str, size: str) -> dict[str, str]:
        label = self.label(tm.rng, ctx, topic, 0.8)
        if self.old:
            title = " ".join(tm.topic_words(topic, 4)).capitalize()
            return {"title": title, "text": self.text(tm, topic, size), "category": label}
        return {"description": self.text(tm, topic, size), "tag": label}

    def question(self, tm: TextMaker, ctx: Context, topic: str, long: bool) -> tuple[str, str]:
        text = self.text(tm, topic, "long" if long else "input")
        gold = self.label(tm.rng, ctx, topic, 0.85)
        if self.old:
            return (
                "Which category does this article relate to among the following categories? "
                "Just answer with the category name without further explanation. "
                f"categories: [{', '.join(self.labels)}] article: {text}",
                gold,
            )
        return (
            "Which tag does this movie relate to among the following tags? Just answer with the "
            f"tag name without further explanation. tags: [{', '.join(self.labels)}] "
            f"description: {text}",
            gold,
        )


class Rating(Builder):
    """LaMP-3: score = review sentiment + the user's bias for the topic, clipped to 1..5.

    Each user also has a typical sentiment per topic, so same-topic reviews share both their
    sentiment words and their scores.
    """

    task = "LaMP-3"

    def prefs(self, rng: random.Random, user: UserPlan) -> Context:
        base = rng.choice((-1, 0, 0, 1))
        bias = {t: base if rng.random() < 0.7 else rng.choice((-1, 0, 1)) for t in user.topics}
        mood = {t: rng.choices((1, 2, 3, 4, 5), (1, 1, 2, 3, 3))[0] for t in user.topics}
        return {"user": user, "bias": bias, "mood": mood}

    def review(self, tm: TextMaker, ctx: Context, topic: str, size: str) -> tuple[str, str]:
        roll = tm.rng.random()
        level = ctx["mood"][topic]
        if roll > 0.9:
            level = tm.rng.randint(1, 5)
        elif roll > 0.65:
            level = min(5, max(1, level + tm.rng.choice((-1, 1))))
        sentiment = tm.rng.sample(vocab.SENTIMENT[level], 3)
        if size == "long":
            text = tm.long_text(topic, vocab.PRODUCT_WORDS) + " " + " ".join(sentiment) + "."
        elif size == "compact":
            text = tm.sentence(topic, 2, 2, vocab.PRODUCT_WORDS, extra=sentiment[:2])
        else:
            n_sentences = tm.rng.randint(1, 3) if size == "input" else 1 + (tm.rng.random() < 0.4)
            text = tm.paragraph(topic, n_sentences, vocab.PRODUCT_WORDS, extra=sentiment)
        return text, str(min(5, max(1, level + ctx["bias"][topic])))

    def item(self, tm: TextMaker, ctx: Context, topic: str, size: str) -> dict[str, str]:
        text, score = self.review(tm, ctx, topic, size)
        return {"text": text, "score": score}

    def question(self, tm: TextMaker, ctx: Context, topic: str, long: bool) -> tuple[str, str]:
        text, score = self.review(tm, ctx, topic, "long" if long else "input")
        return (
            "What is the score of the following review on a scale of 1 to 5? just answer with 1, "
            f"2, 3, 4, or 5 without further explanation. review: {text}",
            score,
        )


class Titling(Builder):
    """LaMP-4/5/6: a user title template and prefix, plus a per-topic signature in titles."""

    def __init__(self, task: str, kind: str) -> None:
        self.task = task
        self.kind = kind

    def prefs(self, rng: random.Random, user: UserPlan) -> Context:
        ctx: Context = {"user": user, "pet": {t: rng.choice(vocab.TOPICS[t]) for t in user.topics}}
        if self.kind == "news":
            ctx.update(p=rng.choice(vocab.NEWS_PREFIXES), tpl=rng.choice(vocab.NEWS_TEMPLATES))
            ctx["s"] = self.per_topic(rng, user, vocab.NAMES)
        elif self.kind == "paper":
            ctx["tpl"] = rng.choice(vocab.PAPER_TEMPLATES)
            ctx["m"] = self.per_topic(rng, user, vocab.METHOD_WORDS)
            letters = string.ascii_uppercase
            ctx["M"] = {t: "".join(rng.choices(letters, k=rng.randint(3, 5))) for t in user.topics}
        else:
            ctx.update(p=rng.choice(vocab.EMAIL_PREFIXES), tpl=rng.choice(vocab.EMAIL_TEMPLATES))
            ctx["s"] = {
                t: f"Project {c}" for t, c in self.per_topic(rng, user, vocab.CODENAMES).items()
            }
            ctx["me"], ctx["you"] = rng.sample(vocab.NAMES, 2)
        return ctx

    def pair(self, tm: TextMaker, ctx: Context, topic: str, size: str) -> tuple[str, str]:
        """A (text, title) pair; the title has the user's pet word for the topic (``a``), one of
        the text's topic words (``b``) and the user's per-topic signature."""
        used: list[str] = []
        framing = {"news": vocab.NEWS_WORDS, "paper": vocab.PAPER_WORDS}.get(
            self.kind, vocab.EMAIL_WORDS
        )
        text = self.body(tm, topic, size, framing, used=used)
        a = ctx["pet"][topic]
        (b,) = tm.pick(vocab.TOPICS[topic], [word for word in used if word != a], 1)
        fill = {"a": a, "b": b, "p": ctx.get("p", ""), "v": tm.rng.choice(vocab.NEWS_VERBS)}
        for key in ("s", "m", "M"):
            if key in ctx:
                fill[key] = ctx[key][topic]
        if self.kind == "email":
            text = f"Hi {ctx['you']}, {text} Thanks, {ctx['me']}"
        return text, ctx["tpl"].format(**fill)

    def item(self, tm: TextMaker, ctx: Context, topic: str, size: str) -> dict[str, str]:
        text, title = self.pair(tm, ctx, topic, size)
        return {"title": title, "abstract" if self.kind == "paper" else "text": text}

    def question(self, tm: TextMaker, ctx: Context, topic: str, long: bool) -> tuple[str, str]:
        text, title = self.pair(tm, ctx, topic, "long" if long else "input")
        intro = {
            "news": "Generate a headline for the following article: ",
            "paper": "Generate a title for the following abstract of a paper: ",
            "email": "Generate a subject for the following email: ",
        }[self.kind]
        return intro + text, title


class Tweets(Builder):
    """LaMP-7: the user's catchphrase, casing, emoji and per-topic hashtag."""

    task = "LaMP-7"

    def prefs(self, rng: random.Random, user: UserPlan) -> Context:
        tags = {
            t: "#" + rng.choice(vocab.TOPICS[t]) + rng.choice(("life", "vibes", "fans", ""))
            for t in user.topics
        }
        return {
            "user": user,
            "lower": rng.random() < 0.5,
            "catch": rng.choice(vocab.CATCHPHRASES),
            "emoji": rng.choice(vocab.EMOJI),
            "tags": tags,
        }

    def styled(self, tm: TextMaker, ctx: Context, topic: str, words: list[str]) -> str:
        words = [word.lower() for word in words]
        tm.rng.shuffle(words)
        text = " ".join([ctx["catch"], *words, ctx["tags"][topic], ctx["emoji"]])
        return text if ctx["lower"] else text[:1].upper() + text[1:]

    def content(self, tm: TextMaker, topic: str, size: str) -> str:
        if size == "long":
            return tm.long_text(topic, vocab.TWEET_WORDS)
        n_topic = 2 if size == "compact" else tm.rng.randint(3, 4)
        return tm.sentence(topic, n_topic, tm.rng.randint(3, 6), vocab.TWEET_WORDS)

    def item(self, tm: TextMaker, ctx: Context, topic: str, size: str) -> dict[str, str]:
        words = self.content(tm, topic, size).rstrip(".").split()
        return {"text": self.styled(tm, ctx, topic, words)}

    def question(self, tm: TextMaker, ctx: Context, topic: str, long: bool) -> tuple[str, str]:
        neutral = self.content(tm, topic, "long" if long else "input")
        gold = self.styled(tm, ctx, topic, neutral.rstrip(".").split())
        return (
            f"Paraphrase the following tweet without any explanation before or after it: {neutral}",
            gold,
        )


BUILDERS: dict[str, Builder] = {
    builder.task: builder
    for builder in (
        Citation(),
        Tagging("LaMP-2", MOVIE_TAGS, old=False),
        Tagging("LaMP-2-old", NEWS_CATEGORIES, old=True),
        Rating(),
        Titling("LaMP-4", "news"),
        Titling("LaMP-5", "paper"),
        Titling("LaMP-6", "email"),
        Tweets(),
    )
}
