"""``ropg-feedback``: collect LLM feedback for ROPG (``candidates``) and RSPG (``pool``).

    ropg-feedback candidates --data DIR --task LaMP-3 --split train --retriever contriever \\
        --candidates 16 --llm hf:google/flan-t5-xxl --out feedback.jsonl
    ropg-feedback pool --data DIR --task LaMP-3 --split train \\
        --retrievers none,recency,bm25,contriever --k 4 --llm SPEC --out pool.jsonl

Every setting of :class:`~ropg.feedback.config.CandidatesConfig` / :class:`PoolConfig` is a
flag; ``--config job.yaml`` reads them from a file and ``KEY=VALUE`` overrides them (see
:mod:`ropg.cli.config_flags`). The output is JSONL (:mod:`ropg.feedback.records`), appended as
it is produced. A re-run with the same arguments continues where a killed run stopped and
writes the identical file; generated outputs are cached (``--cache``), so nothing finished is
generated again. Under ``accelerate launch`` each process takes a shard and the main process
merges them.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from ropg.cli.common import user_errors_exit_2
from ropg.cli.config_flags import build_config_parser, parse_config
from ropg.errors import UserError
from ropg.feedback.config import CandidatesConfig, FeedbackJobConfig, PoolConfig
from ropg.utils.distributed import launched_processes, process_state

logger = logging.getLogger(__name__)

COMMANDS: dict[str, tuple[type[FeedbackJobConfig], str]] = {
    "candidates": (CandidatesConfig, "ROPG: one-item prompts per candidate"),
    "pool": (PoolConfig, "RSPG: the k-item prompt of every retriever"),
}


def build_parser(command: str) -> argparse.ArgumentParser:
    config_class, text = COMMANDS[command]
    return build_config_parser(f"ropg-feedback {command}", text, config_class)


def _usage() -> str:
    lines = ["usage: ropg-feedback COMMAND [options]", "", "commands:"]
    lines += [f"  {name:<11} {text}" for name, (_, text) in COMMANDS.items()]
    return "\n".join([*lines, "", "ropg-feedback COMMAND --help lists its options."])


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


def _pool(config: PoolConfig) -> dict[str, Any]:
    from ropg.retrievers.pipeline import make_retriever

    names = [name.strip() for name in config.retrievers.split(",") if name.strip()]
    options: dict[str, dict[str, Any]] = {name: {} for name in names}
    for key, value in config.retriever_options.items():
        name, _, option = key.partition(".")
        if name not in options or not option:
            raise UserError(f"--retriever-option {key!r} must be NAME.KEY with NAME in the pool")
        options[name][option] = value
    return {name: make_retriever(name, options[name]) for name in names}


def _planner(config: FeedbackJobConfig, retrievers: Any, build_prompt: Any) -> Any:
    from ropg.feedback import CandidatePlanner, PoolPlanner

    if isinstance(config, CandidatesConfig):
        return CandidatePlanner(
            retrievers, config.retriever, build_prompt, config.candidates, not config.no_date,
            config.store_prompts, config.signal,
        )  # fmt: skip
    assert isinstance(config, PoolConfig)
    return PoolPlanner(retrievers, build_prompt, config.k, config.use_date)


def run(config: FeedbackJobConfig) -> int:
    """Collect the feedback of one job; returns the exit code."""
    from ropg.feedback import FeedbackRun, PromptBuilder
    from ropg.feedback.collect import (
        collect_feedback,
        feedback_header,
        merge_shards,
        shards_complete,
    )
    from ropg.generation.endpoint import EndpointConfig, LLMEndpoint
    from ropg.lamp import get_task, load_split

    task = get_task(config.task)
    split = load_split(
        config.data, task, config.split, layout=config.layout, questions=config.questions,
        outputs=config.outputs, require_golds=True,
    ).head(config.limit)  # fmt: skip
    # retrievers first: a bad option fails before a possibly large model loads
    if isinstance(config, CandidatesConfig):
        from ropg.retrievers.pipeline import make_retriever

        retrievers: Any = make_retriever(config.retriever, config.retriever_options)
    else:
        retrievers = _pool(config)  # type: ignore[arg-type]
    shard_index, num_shards, state = _shard(config.shard)
    device = None if state is None else str(state.device)
    llm = LLMEndpoint(EndpointConfig(**config.endpoint_settings(), device=device))
    planner = _planner(
        config, retrievers, PromptBuilder(task, llm.prompt_tokenizer, llm.max_length)
    )
    header = feedback_header(split, llm)
    job = FeedbackRun(config.chunk_size, shard_index, num_shards, not config.no_progress)
    collect_feedback(split, planner, llm, config.out, header, job)
    if num_shards > 1:
        if state is not None:
            state.wait_for_everyone()
            if shard_index == 0:
                merge_shards(split, config.out, num_shards)
        elif shards_complete(split, config.out, num_shards):  # the last shard to finish merges
            merge_shards(split, config.out, num_shards)
        else:
            logger.warning(
                "shard %d/%d done; the last shard to finish merges into %s",
                shard_index, num_shards, config.out,
            )  # fmt: skip
    return 0


@user_errors_exit_2
def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(_usage())
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command not in COMMANDS:
        print(f"error: unknown command {command!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    config_class = COMMANDS[command][0]
    config, printed, _ = parse_config(build_parser(command), rest, config_class)
    return 0 if printed else run(config)


if __name__ == "__main__":
    raise SystemExit(main())
