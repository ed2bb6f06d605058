"""Plan users, build every task's splits and write them in the time-based LaMP layout."""

from __future__ import annotations

import argparse
import logging
import math
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ropg.lamp.data import SPLITS
from ropg.lamp.synthetic.builders import BUILDERS, Builder, UserPlan
from ropg.lamp.synthetic.text import TextMaker
from ropg.lamp.synthetic.vocab import TOPICS
from ropg.lamp.tasks import get_task
from ropg.utils.io import atomic_write_json, prepare_output_dir

logger = logging.getLogger(__name__)


DEFAULT_TASKS = ("LaMP-1", "LaMP-2", "LaMP-3", "LaMP-4", "LaMP-5", "LaMP-6", "LaMP-7")
KNOWN_TASKS = (*DEFAULT_TASKS, "LaMP-2-old")
COMPACT_ABOVE = 150  # profiles larger than this get one-sentence items to keep files small
TOPIC_WEIGHTS = (0.5, 0.3, 0.2)
FOCUS_WORDS = 8  # a user writes about each of their topics with 8 of its words
NORMAL_SPLITS = ("train", "train", "dev", "test")
FEWER_QUESTIONS_ABOVE = 16  # normal users with larger profiles get one question per split

SplitData = dict[str, tuple[list[dict[str, Any]], list[dict[str, str]]]]


def plan_users(n_users: int, max_profile: int, seed: int) -> list[UserPlan]:
    """Users 0-4 are hard cases, the rest have log-uniform profile sizes.

    User 0 has an empty profile, user 1 a single item, user 2 ``max_profile`` items (one dev
    question), user 3 about ``max_profile ** 0.75`` items (one train question), and user 4 a
    long (>600 words) input and profile item. The others draw 2 .. ``max_profile ** 0.5`` items
    log-uniformly and get four questions (two train), or three with a larger profile.
    """
    if n_users < 1 or max_profile < 1:
        raise ValueError("need at least one user and max_profile >= 1")
    rng = random.Random(f"{seed}|users")
    cap = max(2, round(max_profile**0.5))
    plans = []
    for index in range(n_users):
        topics = tuple(rng.sample(sorted(TOPICS), 3))
        size = round(math.exp(rng.uniform(math.log(2), math.log(cap))))
        splits = NORMAL_SPLITS[index % 4 :] + NORMAL_SPLITS[: index % 4]
        if size > FEWER_QUESTIONS_ABOVE:
            splits = SPLITS
        if index in (0, 1):
            size, splits = index, SPLITS
        elif index == 2:
            size, splits = max_profile, ("dev",)
        elif index == 3:
            size, splits = round(max_profile**0.75), ("train",)
        size = min(size, max_profile)
        plans.append(
            UserPlan(
                index=index,
                user_id=str(1000 + index),
                n_items=size,
                splits=splits,
                topics=topics,
                weights=TOPIC_WEIGHTS,
                compact=size > COMPACT_ABOVE,
                long_case=index == 4,
            )
        )
    return plans


def build_task(builder: Builder, plans: Sequence[UserPlan], seed: int) -> SplitData:
    """All splits of one task: ``{split: (questions, golds)}``; deterministic per seed."""
    data: SplitData = {split: ([], []) for split in SPLITS}
    next_id = 10_000 * (KNOWN_TASKS.index(builder.task) + 1)
    for plan in plans:
        rng = random.Random(f"{seed}|{builder.task}|{plan.index}")
        tm = TextMaker(rng, {t: rng.sample(TOPICS[t], FOCUS_WORDS) for t in plan.topics})
        ctx = builder.prefs(rng, plan)
        profile = []
        for position in range(plan.n_items):
            topic = rng.choices(plan.topics, plan.weights)[0]
            size = "compact" if plan.compact else "normal"
            if plan.long_case and position == 0:
                size = "long"
            item = {"id": str((plan.index + 1) * 100_000 + position)}
            item.update(builder.item(tm, ctx, topic, size))
            item["date"] = tm.date(builder.year_only_rate)
            profile.append(item)
        for number, split in enumerate(plan.splits):
            topic = rng.choices(plan.topics, plan.weights)[0]
            text, gold = builder.question(tm, ctx, topic, plan.long_case and number == 0)
            qid = str(next_id)
            next_id += 1
            questions, golds = data[split]
            questions.append(
                {"id": qid, "input": text, "profile": profile, "user_id": plan.user_id}
            )
            golds.append({"id": qid, "output": gold})
    return data


def resolve_tasks(names: Sequence[str] | None) -> list[str]:
    """Canonical task names (default: LaMP-1..7; LaMP-2-old only when named)."""
    if not names:
        return list(DEFAULT_TASKS)
    resolved = []
    for name in names:
        canonical = get_task(name).name
        if canonical not in BUILDERS:
            raise ValueError(f"no synthetic generator for task {canonical!r}")
        if canonical not in resolved:
            resolved.append(canonical)
    return resolved


def generate(
    out: str | Path,
    users: int = 40,
    seed: int = 13,
    tasks: Sequence[str] | None = None,
    max_profile: int = 1200,
) -> dict[str, dict[str, int]]:
    """Write a synthetic LaMP dataset under ``out/time/LaMP_k/{split}/``.

    Returns the number of questions per task and split.
    """
    out = prepare_output_dir(out)  # before any work: a file or a FIFO at --out is refused
    plans = plan_users(users, max_profile, seed)
    counts: dict[str, dict[str, int]] = {}
    for name in resolve_tasks(tasks):
        task = get_task(name)
        data = build_task(BUILDERS[name], plans, seed)
        for split, (questions, golds) in data.items():
            folder = out / "time" / task.official_name / split
            atomic_write_json(folder / f"{split}_questions.json", questions)
            if split != "test":
                atomic_write_json(
                    folder / f"{split}_outputs.json", {"task": task.official_name, "golds": golds}
                )
        counts[name] = {split: len(data[split][0]) for split in SPLITS}
        logger.info("%s: %s questions written under %s", name, counts[name], out)
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point (``python -m ropg.lamp.synthetic``)."""
    parser = argparse.ArgumentParser(
        prog="python -m ropg.lamp.synthetic",
        description="Generate a synthetic, personalization-sensitive LaMP dataset (time layout).",
    )
    parser.add_argument("--out", required=True, type=Path, help="output directory")
    parser.add_argument("--users", type=int, default=40, help="number of users (default 40)")
    parser.add_argument("--seed", type=int, default=13, help="random seed (default 13)")
    parser.add_argument(
        "--tasks",
        default=",".join(DEFAULT_TASKS),
        help="comma-separated tasks (default LaMP-1..LaMP-7; LaMP-2-old must be named)",
    )
    parser.add_argument("--max-profile", type=int, default=1200, help="largest profile size")
    parser.add_argument("--log-level", default="WARNING", help="logging level (default WARNING)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    names = [name.strip() for name in args.tasks.split(",") if name.strip()]
    try:
        counts = generate(args.out, args.users, args.seed, names, args.max_profile)
    except (ValueError, OSError) as error:  # UserError is a ValueError
        parser.error(str(error))
    total = sum(sum(split.values()) for split in counts.values())
    print(f"wrote {len(counts)} tasks ({total} questions) under {args.out}")
    return 0
