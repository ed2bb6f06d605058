"""``ropg-rank``: rank every question's profile with a retriever from the pool.

Writes ``{question_id: [profile item ids, best first]}`` (the LaMP reference's ranking file),
and with ``--merged`` the questions file with each profile reordered by its ranking::

    ropg-rank --data DIR --task LaMP-2 --split dev --retriever bm25 --top-k 4 --out r.json
    ropg-rank --data DIR --task LaMP-5 --retriever rrf --option 'retrievers=[bm25, recency]' \\
        --out r.json --merged dev_questions_ranked.json
    ropg-rank --questions q.json --task LaMP-3 --retriever mypkg.retrievers:Mine --out r.json

``--retriever`` takes a built-in name (``none``, ``random``, ``recency``, ``bm25``, ``rrf``, ...),
a ``module:Class`` path or a ``ropg.retrievers`` entry point; ``--option KEY=VALUE`` (repeatable)
passes options, values parsed as YAML (``k1=1.2``, ``implementation=reference``,
``retrievers=[bm25, recency]``). Bad input exits with code 2 and one line on stderr; no output
file is written then. Outputs are written atomically.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ropg.cli.common import user_errors_exit_2
from ropg.cli.config_flags import build_config_parser, parse_config
from ropg.lamp.data import load_split
from ropg.retrievers.pipeline import (
    QUERY_FALLBACKS,
    make_retriever,
    rank_split,
    rankings_to_ids,
    reorder_profiles,
)
from ropg.utils.collector import long_lived_data
from ropg.utils.config import ConfigBase, field_help
from ropg.utils.io import atomic_write_json, check_replaceable, json_file_is

logger = logging.getLogger("ropg.cli.rank")


@dataclass
class RankConfig(ConfigBase):
    """What ``ropg-rank`` ranks, with what, and where it writes."""

    SECTION: ClassVar[str] = "rank"

    task: str = field(default="", metadata=field_help("LaMP-1 .. LaMP-7, LaMP-2-old (or LaMP_k)"))
    data: str | None = field(
        default=None, metadata=field_help("LaMP data directory (time- or user-based layout)")
    )
    questions: str | None = field(
        default=None, metadata=field_help("a questions file (instead of finding it in --data)")
    )
    split: str = field(default="dev", metadata=field_help("train, dev or test"))
    layout: str = field(default="auto", metadata=field_help("data layout: auto, time, user, flat"))
    retriever: str = field(
        default="", metadata=field_help("built-in name, module:Class or entry point")
    )
    retriever_options: dict[str, Any] = field(
        default_factory=dict,
        metadata=field_help(
            "retriever option (the value is parsed as YAML)",
            aliases=("--retriever-option", "--option"),
        ),
    )
    top_k: int | None = field(default=None, metadata=field_help("keep the best N (default: all)"))
    use_date: bool = field(
        default=False, metadata=field_help("append ' date: {date}' to each document")
    )
    query_fallback: str = field(
        default="error",
        metadata=field_help("an input without a query: error, or input (the whole input)"),
    )
    out: str = field(default="", metadata=field_help("rankings JSON to write"))
    merged: str | None = field(
        default=None, metadata=field_help("also write the questions with reordered profiles here")
    )
    overwrite: bool = field(
        default=False,
        metadata=field_help("replace existing output files that are not ropg rankings"),
    )
    no_progress: bool = field(default=False, metadata=field_help("no progress bar"))

    def checks(self) -> list[tuple[bool, str]]:
        from ropg.lamp.data import LAYOUTS, SPLITS

        return [
            (bool(self.task), "give the task (--task)"),
            (bool(self.retriever), "give the retriever (--retriever)"),
            (bool(self.out), "give the output file (--out)"),
            (bool(self.data or self.questions), "give --data DIR or --questions FILE"),
            (self.split in SPLITS, f"split must be one of {SPLITS}"),
            (self.layout in LAYOUTS, f"layout must be one of {LAYOUTS}"),
            (self.top_k is None or self.top_k >= 1, f"top_k must be >= 1, got {self.top_k}"),
            (self.query_fallback in QUERY_FALLBACKS, f"query_fallback: one of {QUERY_FALLBACKS}"),
        ]


def build_parser() -> argparse.ArgumentParser:
    return build_config_parser(
        "ropg-rank",
        "Rank each LaMP question's profile with a retriever; write the item ids.",
        RankConfig,
    )


def _is_rankings(path: Path) -> bool:
    """Whether ``path`` holds rankings as ``ropg-rank`` writes them: ``{question id: [ids]}``."""

    def shape(data: Any) -> bool:
        return isinstance(data, dict) and all(isinstance(v, list) for v in data.values())

    return json_file_is(path, shape)


@user_errors_exit_2
def main(argv: Sequence[str] | None = None) -> int:
    args, printed, _ = parse_config(build_parser(), argv, RankConfig)
    if printed:
        return 0
    quiet = logging.getLogger().getEffectiveLevel() > logging.WARNING
    retriever = make_retriever(args.retriever, args.retriever_options)
    with long_lived_data():
        split = load_split(
            args.data, args.task, args.split, layout=args.layout, questions=args.questions
        )
    inputs = (split.questions_path, split.outputs_path)
    check_replaceable(
        args.out, inputs=inputs, recognise=_is_rankings, what="rankings file",
        overwrite=args.overwrite,
    )  # fmt: skip
    if args.merged:  # a merged file has the questions' own format: never taken for ropg's
        check_replaceable(args.merged, inputs=inputs, what="merged questions file",
                          overwrite=args.overwrite)  # fmt: skip
    started = time.perf_counter()
    rankings = rank_split(
        retriever,
        split,
        top_k=args.top_k,
        use_date=args.use_date,
        show_progress=not (args.no_progress or quiet),
        query_fallback=args.query_fallback,
    )
    ranked_ids = rankings_to_ids(rankings, split)
    merged = reorder_profiles(split, rankings) if args.merged else None
    atomic_write_json(args.out, ranked_ids)
    if merged is not None:
        atomic_write_json(args.merged, merged)
    logger.info(
        "ranked %d %s %s questions with %s in %.1f s -> %s",
        len(ranked_ids),
        split.task.name,
        args.split,
        args.retriever,
        time.perf_counter() - started,
        args.out,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
