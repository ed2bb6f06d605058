"""A synthetic, LongLaMP-shaped data set of users who write reviews in their own voice.

Every user has a stable **vocabulary** (ten style words drawn from a shared pool), stable
**phrasings** (an opening phrase, one of 144, and a closing phrase, one of 12) and two favourite
product kinds. Each review (title + body, dated) opens with a generic introduction (so the first
150 characters hold none of the user's words), then mixes template words with the user's own
words, so a user's past reviews predict the words of a new one: ranked past passages help, as in
the paper. Outputs are
byte-identical for the same arguments:

- ``documents.jsonl``: one ``{user_id, id, date, title, text}`` document a line (the generic
  documents format);
- ``longlamp/product_review_user/{train,val,test}.json``: the same users as LongLaMP
  ``product_review`` records in the user setting (``reviewerId``, ``input``, ``output``,
  ``profile`` of ``description``/``overall``/``reviewText``/``summary``): a user's last review
  is the output, the earlier ones the profile; users split 80/10/10.

The sample in ``ropg/data/multistage_sample`` (:func:`sample_path`) is::

    python -m ropg.multistage.synthetic --out ropg/data/multistage_sample --users 40 --seed 7
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ropg.multistage.documents import Document

SAMPLE_COMMAND = (
    "python -m ropg.multistage.synthetic --out ropg/data/multistage_sample --users 40 --seed 7"
)

STYLE_WORDS = tuple(
    """
    sturdy flimsy nifty clunky pricey splendid dreadful gorgeous sleek bulky handy fiddly
    crisp muddy snappy sluggish glossy matte rugged dainty hefty lightweight quirky bland
    vibrant dull zesty mellow brisk gentle fierce cozy roomy cramped tidy messy shiny rusty
    smooth bumpy silky scratchy sharp blunt bright dim quiet noisy reliable shaky elegant
    tacky charming grumpy cheerful gloomy lively sleepy speedy creaky sturdier polished
    rough plush springy stiff supple durable fragile compact sprawling modest lavish frugal
    trusty wobbly steady breezy stuffy fresh stale crunchy soggy tangy bitter sweet savory
    spicy peppery buttery nutty fruity earthy smoky woody floral minty citrusy velvety grainy
    chunky slender tiny massive petite jumbo clever clumsy nimble graceful awkward tender
    harsh cool toasty chilly balmy frosty sunny cloudy stormy misty dusty spotless grimy
    """.split()
)
OPENER_LEADS = (
    "well",
    "so",
    "okay",
    "honestly",
    "frankly",
    "look",
    "alright",
    "now",
    "right",
    "listen",
    "basically",
    "truly",
)
OPENERS = (
    "to be honest",
    "all things considered",
    "long story short",
    "in my humble opinion",
    "first things first",
    "believe it or not",
    "as far as i can tell",
    "truth be told",
    "without a doubt",
    "for what it is worth",
    "in a nutshell",
    "if you ask me",
)
CLOSERS = (
    "would buy again",
    "cannot complain",
    "worth every penny",
    "a keeper for sure",
    "not bad at all",
    "happy with it overall",
    "recommended to friends",
    "five stars from me",
    "a solid pick",
    "glad i tried it",
    "still on the fence",
    "lesson learned",
)
PRODUCTS = {
    "kitchen": ("kettle", "blender", "toaster", "pan", "knife", "grinder"),
    "audio": ("headphones", "speaker", "earbuds", "radio", "amplifier", "microphone"),
    "outdoor": ("tent", "backpack", "lantern", "jacket", "boots", "hammock"),
    "books": ("novel", "cookbook", "memoir", "atlas", "thriller", "anthology"),
    "garden": ("shovel", "hose", "planter", "rake", "sprinkler", "trowel"),
    "office": ("chair", "lamp", "keyboard", "notebook", "stapler", "monitor"),
}
INTRODUCTIONS = (
    "{opener}, I bought this {product} a while ago and have used it nearly every day since then "
    "at home and at work.",
    "{opener}, I picked up this {product} last month after reading a few of the other reviews "
    "on this page here.",
    "{opener}, this {product} was a present from a friend and I have been using it at home for "
    "a few weeks now.",
)
TEMPLATES = (
    "The {product} is {w1} and {w2}.",
    "It felt {w1} after {weeks} weeks.",
    "The finish is {w1} while the handle seems {w2}.",
    "My family thinks it looks {w1}, and I agree it is {w2}.",
    "Compared to my old one it is far more {w1}.",
    "Setup was {w1} but the manual was {w2}.",
    "It still seems {w1} and {w2}.",
    "It arrived {w1} in a {w2} box.",
    "The price is fair for something this {w1}.",
    "On a busy day it stays {w1} and never gets {w2}.",
)
DESCRIPTIONS = ("A {product} for everyday use.", "The popular {product} of this season.")


@dataclass(frozen=True)
class SyntheticUser:
    """One synthetic author: their words, phrasings and favourite product kinds."""

    user_id: str
    words: tuple[str, ...]
    opener: str
    closer: str
    kinds: tuple[str, ...]


def make_users(
    count: int, seed: int, pool_size: int | None = None, words_per_user: int = 10
) -> list[SyntheticUser]:
    """``count`` users whose words come from the first ``pool_size`` style words (all: None)."""
    rng = random.Random(seed)
    pool = STYLE_WORDS[:pool_size] if pool_size else STYLE_WORDS
    users = []
    for index in range(count):
        users.append(
            SyntheticUser(
                user_id=f"u{index:03d}",
                words=tuple(rng.sample(pool, words_per_user)),
                opener=f"{rng.choice(OPENER_LEADS)} {rng.choice(OPENERS)}",
                closer=rng.choice(CLOSERS),
                kinds=tuple(rng.sample(sorted(PRODUCTS), 2)),
            )
        )
    return users


def write_review(
    user: SyntheticUser, rng: random.Random, introduction: bool = True
) -> tuple[str, str, str, int]:
    """``(title, text, product, rating)`` of one review by ``user``: a generic introduction (the
    first ~150 characters hold none of the user's words; left out with ``introduction=False``),
    then sentences in the user's words and the user's closing phrase."""
    product = rng.choice(PRODUCTS[rng.choice(user.kinds)])
    title = f"{product.capitalize()} review"
    opening = rng.choice(INTRODUCTIONS).format(opener=user.opener.capitalize(), product=product)
    sentences = [
        template.format(
            product=product,
            weeks=rng.randint(2, 9),
            w1=rng.choice(user.words),
            w2=rng.choice(user.words),
        )
        for template in rng.sample(TEMPLATES, rng.randint(5, 7))
    ]
    text = " ".join([opening, *sentences] if introduction else sentences)
    text = f"{text} {user.closer.capitalize()}."
    return title, text, product, rng.randint(1, 5)


def generate_documents(
    users: int = 40,
    seed: int = 7,
    min_documents: int = 8,
    max_documents: int = 13,
    pool_size: int | None = None,
    words_per_user: int = 10,
    introduction: bool = True,
) -> list[Document]:
    """The documents of ``users`` synthetic users, dated, in user order (users' words from the
    first ``pool_size`` style words, ``words_per_user`` each)."""
    rng = random.Random(seed + 1)
    documents = []
    for user in make_users(users, seed, pool_size, words_per_user):
        for number in range(rng.randint(min_documents, max_documents)):
            title, text, _, _ = write_review(user, rng, introduction)
            date = f"20{10 + number // 12:02d}-{number % 12 + 1:02d}-{rng.randint(1, 28):02d}"
            documents.append(
                Document(user.user_id, f"d{number:02d}", text, title, date, len(documents))
            )
    return documents


def longlamp_records(documents: Sequence[Document], seed: int) -> dict[str, list[dict]]:
    """The documents as LongLaMP ``product_review`` records (user setting), per split."""
    by_user: dict[str, list[Document]] = {}
    for document in documents:
        by_user.setdefault(document.user_id, []).append(document)
    users = sorted(by_user)
    random.Random(seed).shuffle(users)
    cut_a, cut_b = round(len(users) * 0.8), round(len(users) * 0.9)
    records: dict[str, list[dict]] = {"train": [], "val": [], "test": []}
    for index, user in enumerate(users):
        split = "train" if index < cut_a else "val" if index < cut_b else "test"
        *earlier, last = by_user[user]
        product = last.title.split()[-1]
        profile = [
            {
                "description": DESCRIPTIONS[i % 2].format(product=d.title.split()[-1]),
                "overall": str(float(1 + i % 5)),
                "reviewText": d.text,
                "summary": d.title,
            }
            for i, d in enumerate(earlier)
        ]
        prompt = (
            f"Generate the review text written by a reviewer who has given an overall rating of "
            f'4.0 for a product with description "{DESCRIPTIONS[0].format(product=product)}". '
            f'The summary of the review text is "{last.title}".'
        )
        records[split].append(
            {"reviewerId": user, "input": prompt, "output": last.text, "profile": profile}
        )
    return records


def write_sample(out: str | Path, users: int = 40, seed: int = 7) -> Path:
    """Write ``documents.jsonl`` and the LongLaMP-shaped records under ``out``."""
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    documents = generate_documents(users, seed)
    with (root / "documents.jsonl").open("w", encoding="utf-8") as stream:
        for document in documents:
            record = {
                "user_id": document.user_id,
                "id": document.id,
                "date": document.date,
                "title": document.title,
                "text": document.text,
            }
            stream.write(json.dumps(record, ensure_ascii=False) + "\n")
    longlamp = root / "longlamp" / "product_review_user"
    longlamp.mkdir(parents=True, exist_ok=True)
    for split, records in longlamp_records(documents, seed).items():
        (longlamp / f"{split}.json").write_text(
            json.dumps(records, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
    return root


def sample_path() -> Path:
    """The shipped sample's directory (``documents.jsonl``, ``longlamp/``)."""
    import ropg

    return Path(ropg.__file__).resolve().parent / "data" / "multistage_sample"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ropg.multistage.synthetic", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    print(write_sample(args.out, args.users, args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
