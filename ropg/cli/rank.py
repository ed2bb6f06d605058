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

from ropg.cli.common import (
    add_data_flags,
    add_logging_flags,
    parse_options,
    setup_logging,
    user_errors_exit_2,
)
from ropg.errors import UserError
from ropg.lamp.data import load_split
from ropg.retrievers.pipeline import (
    QUERY_FALLBACKS,
    make_retriever,
    rank_split,
    rankings_to_ids,
    reorder_profiles,
)
from ropg.utils.collector import long_lived_data
from ropg.utils.io import atomic_write_json

logger = logging.getLogger("ropg.cli.rank")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ropg-rank",
        description="Rank each LaMP question's profile with a retriever; write the item ids.",
    )
    add_data_flags(parser, default_split="dev")
    parser.add_argument(
        "--retriever", required=True, help="built-in name, module:Class or entry point"
    )
    parser.add_argument(
        "--retriever-option",
        "--option",
        action="append",
        metavar="KEY=VALUE",
        help="retriever option (repeatable; the value is parsed as YAML)",
    )
    parser.add_argument("--top-k", type=int, default=None, help="keep the best N (default: all)")
    parser.add_argument(
        "--use-date", action="store_true", help="append ' date: {date}' to each document"
    )
    parser.add_argument(
        "--query-fallback",
        choices=QUERY_FALLBACKS,
        default="error",
        help="an input with no extractable query: fail (default) or search with the whole input",
    )
    parser.add_argument("--out", required=True, help="rankings JSON to write")
    parser.add_argument("--merged", help="also write the questions with reordered profiles here")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_logging_flags(parser)
    return parser


@user_errors_exit_2
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose, args.quiet)
    if args.data is None and args.questions is None:
        raise UserError("give --data DIR or --questions FILE")
    if args.top_k is not None and args.top_k < 0:
        raise UserError(f"--top-k must be >= 0, got {args.top_k}")
    options = parse_options(args.retriever_option, "--retriever-option")
    retriever = make_retriever(args.retriever, options)
    with long_lived_data():
        split = load_split(
            args.data, args.task, args.split, layout=args.layout, questions=args.questions
        )
    started = time.perf_counter()
    rankings = rank_split(
        retriever,
        split,
        top_k=args.top_k,
        use_date=args.use_date,
        show_progress=not (args.no_progress or args.quiet),
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
