"""``ropg``: the umbrella command; ``ropg COMMAND ...`` runs one subcommand.

Every subcommand is also its own console script (``ropg rank`` is ``ropg-rank``, ``ropg
benchmark`` is ``ropg-benchmark`` and ``benchmarks/run_all.py``); ``ropg`` alone, or
``ropg --help``, lists them. Commands are found in :data:`COMMANDS` and imported only when run,
so ``ropg cache stats`` does not import torch.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

COMMANDS: dict[str, tuple[str, str]] = {
    "rank": ("ropg.cli.rank:main", "rank profiles with a retriever (ropg-rank)"),
    "feedback": ("ropg.cli.feedback:main", "collect LLM feedback for ROPG / RSPG (ropg-feedback)"),
    "train": ("ropg.cli.train:main", "train ROPG-KD / ROPG-RL retrievers (ropg-train)"),
    "rspg-train": ("ropg.cli.rspg_train:main", "train RSPG selectors (rspg-train)"),
    "reflect": ("ropg.cli.reflect:main", "RPO: generate, retrieve, rewrite (ropg-reflect)"),
    "rpo-train": ("ropg.cli.rpo_train:main", "RPO trajectories, SFT and RL (rpo-train)"),
    "multistage": ("ropg.cli.multistage:main", "the multistage writing pipeline (ropg-multistage)"),
    "benchmark": ("ropg.cli.benchmark:console_main", "a whole benchmark run (run_all.py)"),
    "eval": ("ropg.cli.eval:main", "score predictions with the official metrics (ropg-eval)"),
    "compare": ("ropg.cli.compare:main", "compare two benchmark runs (ropg-compare)"),
    "cache": ("ropg.cli.cache:cache_main", "inspect the generation cache"),
}


def _usage() -> str:
    width = max(len(name) for name in COMMANDS)
    lines = ["usage: ropg COMMAND [ARGS ...]", "", "commands:"]
    lines += [f"  {name:<{width}}  {text}" for name, (_, text) in COMMANDS.items()]
    lines += ["", "ropg COMMAND --help shows a command's options."]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``ropg COMMAND ARGS``; returns the exit code (2 for an unknown command)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"error: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module_name, _, function = COMMANDS[name][0].partition(":")
    entry = getattr(importlib.import_module(module_name), function)
    if name == "benchmark":  # its console entry re-executes itself with malloc tunables
        sys.argv = [f"ropg {name}", *rest]
        return int(entry())
    return int(entry(rest))


if __name__ == "__main__":
    raise SystemExit(main())
