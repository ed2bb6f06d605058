"""``ropg-feedback``: collect LLM feedback for ROPG (``candidates``) and RSPG (``pool``).

    ropg-feedback candidates --data DIR --task LaMP-3 --split train --retriever contriever \\
        --candidates 16 --llm hf:google/flan-t5-xxl --out feedback.jsonl
    ropg-feedback pool --data DIR --task LaMP-3 --split train \\
        --retrievers none,recency,bm25,contriever --k 4 --llm SPEC --out pool.jsonl

The output is JSONL (see :mod:`ropg.feedback.planners` for the record format), appended as it
is produced. A re-run with the same arguments continues where a killed run stopped and writes
the identical file; generated outputs are cached (``--cache``), so nothing finished is
generated again. Under ``accelerate launch`` each process takes a shard and the main process
merges them.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from typing import Any

from ropg.cli.common import (
    add_data_flags,
    add_logging_flags,
    parse_options,
    setup_logging,
    user_errors_exit_2,
)
from ropg.errors import UserError
from ropg.feedback.collect import SIGNALS
from ropg.utils.distributed import launched_processes, process_state

logger = logging.getLogger(__name__)


def _common_flags(parser: argparse.ArgumentParser) -> None:
    data = parser.add_argument_group("data")
    add_data_flags(data, default_split="train")
    data.add_argument("--outputs", help="explicit outputs file with the golds")
    data.add_argument("--limit", type=int, help="only the first N examples (quick runs)")
    llm = parser.add_argument_group("LLM")
    llm.add_argument(
        "--llm",
        required=True,
        help="generator spec: hf:MODEL, vllm:MODEL, openai:URL#MODEL, openai-chat:URL#MODEL",
    )
    llm.add_argument(
        "--llm-option",
        action="append",
        metavar="KEY=VALUE",
        help="generator option, e.g. dtype=bf16 (repeatable)",
    )
    llm.add_argument(
        "--prompt-tokenizer",
        help="tokenizer for prompt budgets (default: the "
        "generator's; required for openai backends)",
    )
    llm.add_argument(
        "--max-length",
        type=int,
        default=512,
        help="prompt budget and input truncation in tokens (default 512)",
    )
    llm.add_argument("--max-new-tokens", type=int, default=128)
    llm.add_argument("--num-beams", type=int, default=4)
    llm.add_argument("--batch-size", type=int, default=8, help="prompts per forward pass")
    llm.add_argument(
        "--cache",
        help="generation cache file (default: $ROPG_CACHE_DIR or ~/.cache/ropg/generations.sqlite)",
    )
    run = parser.add_argument_group("run")
    run.add_argument("--out", required=True, help="output JSONL file")
    run.add_argument(
        "--chunk-size",
        type=int,
        default=16,
        help="examples per generation call / durable append (default 16)",
    )
    run.add_argument(
        "--shard",
        help="INDEX/COUNT: process every COUNT-th example from INDEX "
        "(default: from accelerate's process index when launched with it)",
    )
    run.add_argument("--no-progress", action="store_true")
    add_logging_flags(parser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ropg-feedback", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    candidates = commands.add_parser("candidates", help="ROPG: one-item prompts per candidate")
    _common_flags(candidates)
    candidates.add_argument("--retriever", default="contriever", help="initial retriever")
    candidates.add_argument("--retriever-option", action="append", metavar="KEY=VALUE")
    candidates.add_argument("--candidates", type=int, default=16, help="l (default 16)")
    candidates.add_argument(
        "--no-date",
        action="store_true",
        help="do not append ' date: ...' to documents (default: on)",
    )
    candidates.add_argument("--store-prompts", action="store_true")
    candidates.add_argument(
        "--signal",
        default="generate",
        choices=sorted(SIGNALS),
        help="generate: score the LLM's output against the gold (the paper); likelihood: "
        "log p(gold | prompt), one forward pass instead of a beam search (hf, vllm)",
    )
    pool = commands.add_parser("pool", help="RSPG: the k-item prompt of every retriever")
    _common_flags(pool)
    pool.add_argument(
        "--retrievers",
        default="none,recency,bm25,contriever",
        help="comma-separated pool (default: none,recency,bm25,contriever)",
    )
    pool.add_argument(
        "--retriever-option",
        action="append",
        metavar="NAME.KEY=VALUE",
        help="option of one pool member, e.g. contriever.batch_size=64",
    )
    pool.add_argument("--k", type=int, default=4, help="items per prompt (default 4)")
    pool.add_argument("--use-date", action="store_true", help="append ' date: ...' to documents")
    return parser


def _shard(arg: str | None) -> tuple[int, int, Any]:
    if arg:
        index, _, count = arg.partition("/")
        try:
            shard = (int(index), int(count))
        except ValueError:
            raise UserError(f"--shard expects INDEX/COUNT, got {arg!r}") from None
        if not 0 <= shard[0] < shard[1]:
            raise UserError(f"--shard index must be in [0, COUNT), got {arg!r}")
        return shard[0], shard[1], None
    if launched_processes() > 1:
        state = process_state()
        return state.process_index, state.num_processes, state
    return 0, 1, None


def _pool(args: argparse.Namespace) -> dict[str, Any]:
    from ropg.retrievers.pipeline import make_retriever

    names = [name.strip() for name in args.retrievers.split(",") if name.strip()]
    if not names:
        raise UserError("--retrievers names no retriever")
    options: dict[str, dict[str, Any]] = {name: {} for name in names}
    for key, value in parse_options(args.retriever_option, "--retriever-option").items():
        name, _, option = key.partition(".")
        if name not in options or not option:
            raise UserError(f"--retriever-option {key!r} must be NAME.KEY with NAME in the pool")
        options[name][option] = value
    return {name: make_retriever(name, options[name]) for name in names}


def _generator(args: argparse.Namespace, state: Any) -> tuple[Any, Any, Any]:
    from ropg.generation import CachedGenerator, GenerationConfig, get_generator

    config = GenerationConfig(
        max_new_tokens=args.max_new_tokens,
        num_beams=args.num_beams,
        max_input_length=args.max_length,
        batch_size=args.batch_size,
    )
    options = parse_options(args.llm_option, "--llm-option")
    if state is not None and args.llm.startswith("hf:") and "device" not in options:
        options["device"] = str(state.device)
    options.setdefault("show_progress", False)
    generator = get_generator(args.llm, config=config, **options)
    if args.prompt_tokenizer:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(args.prompt_tokenizer)
    elif getattr(generator, "tokenizer", None) is not None:
        tokenizer = generator.tokenizer
    else:
        raise UserError(f"{args.llm} has no tokenizer for prompt budgets; pass --prompt-tokenizer")
    return CachedGenerator(generator, args.cache), config, tokenizer


@user_errors_exit_2
def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose, args.quiet)
    from ropg.feedback import CandidatePlanner, FeedbackRun, PoolPlanner, PromptBuilder
    from ropg.feedback.collect import (
        collect_feedback,
        feedback_header,
        merge_shards,
        shards_complete,
    )
    from ropg.lamp import get_task, load_split

    task = get_task(args.task)
    split = load_split(
        args.data,
        task,
        args.split,
        layout=args.layout,
        questions=args.questions,
        outputs=args.outputs,
        require_golds=True,
    )
    split = split.head(args.limit)
    # retrievers first: a bad option fails before a possibly large model loads
    if args.command == "candidates":
        from ropg.retrievers.pipeline import make_retriever

        options = parse_options(args.retriever_option, "--retriever-option")
        retriever = make_retriever(args.retriever, options)
    else:
        pool = _pool(args)
    shard_index, num_shards, state = _shard(args.shard)
    generator, config, tokenizer = _generator(args, state)
    build_prompt = PromptBuilder(task, tokenizer, args.max_length)
    if args.command == "candidates":
        planner: Any = CandidatePlanner(
            retriever,
            args.retriever,
            build_prompt,
            args.candidates,
            not args.no_date,
            args.store_prompts,
            args.signal,
        )
    else:
        planner = PoolPlanner(pool, build_prompt, args.k, args.use_date)
    header = feedback_header(split, generator, config)
    run = FeedbackRun(args.chunk_size, shard_index, num_shards, not args.no_progress)
    collect_feedback(split, planner, generator, config, args.out, header, run)
    if num_shards > 1:
        if state is not None:
            state.wait_for_everyone()
            if shard_index == 0:
                merge_shards(split, args.out, num_shards)
        elif shards_complete(split, args.out, num_shards):  # the last shard to finish merges
            merge_shards(split, args.out, num_shards)
        else:
            logger.warning(
                "shard %d/%d done; the last shard to finish merges into %s",
                shard_index,
                num_shards,
                args.out,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
