"""``ropg-multistage``: the writing-education multistage pipeline (retrieve, rank, summarize,
synthesize, generate, with author distinction).

    ropg-multistage build-data --config benchmarks/configs/multistage.yaml --cpu
    ropg-multistage train summarizer --config ... [--cpu]      # or keywords, generator, author
    ropg-multistage run --config ... --cpu                      # every row, then multistage.md
    ropg-multistage evaluate --config ... --row +SynCtx
    ropg-multistage synthetic --out DIR --users 40 --seed 7     # synthetic data

Every setting of :class:`~ropg.multistage.config.MultistageConfig` is a flag named by its dotted
path (``--rank.max-chars 1000``, ``--train.model tiny-t5``, ``--data.source DIR``); values are
read as YAML scalars and override the ``--config`` file; ``--cpu`` applies the file's
``cpu_overrides`` first; ``--print-config`` prints the resolved settings. Every stage's output
is cached under ``work_dir``: a re-run, or a killed run started again, redoes nothing finished.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import typing
from collections.abc import Sequence
from typing import Any

from ropg.cli.common import add_logging_flags, setup_logging, user_errors_exit_2

COMMANDS = ("build-data", "train", "run", "evaluate", "synthetic")
TRAIN_STAGES = ("summarizer", "keywords", "generator", "author")


def add_config_flags(parser: argparse.ArgumentParser, config_class: type, prefix: str = "") -> None:
    """One ``--section.field`` flag per setting of the (nested) dataclass ``config_class``."""
    hints = typing.get_type_hints(config_class)
    for item in dataclasses.fields(config_class):
        name = f"{prefix}{item.name}"
        if dataclasses.is_dataclass(hints[item.name]):
            add_config_flags(parser, hints[item.name], f"{name}.")
            continue
        flags = [f"--{name.replace('_', '-')}"]
        if "_" in name:
            flags.append(f"--{name}")
        text = item.metadata.get("help", "").replace("%", "%%")
        parser.add_argument(*flags, dest=f"set:{name}", metavar="VALUE", help=text or None)


def build_parser() -> argparse.ArgumentParser:
    from ropg.multistage.config import MultistageConfig

    parser = argparse.ArgumentParser(prog="ropg-multistage", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS[:-1]:
        sub = commands.add_parser(command, argument_default=argparse.SUPPRESS)
        if command == "train":
            sub.add_argument("stage", choices=TRAIN_STAGES, help="the model to train")
        if command in ("train", "evaluate"):
            sub.add_argument("--row", help="the table row (generator; evaluate)")
        sub.add_argument("--config", help="YAML file of settings (flags override it)")
        sub.add_argument("--cpu", action="store_true", help="apply the file's cpu_overrides")
        sub.add_argument("--print-config", action="store_true", help="print settings and exit")
        add_config_flags(sub, MultistageConfig)
        add_logging_flags(sub)
    synthetic = commands.add_parser("synthetic", help="write synthetic documents and records")
    synthetic.add_argument("--out", required=True)
    synthetic.add_argument("--users", type=int, default=40)
    synthetic.add_argument("--seed", type=int, default=7)
    add_logging_flags(synthetic)
    return parser


def load_config(args: dict[str, Any]) -> Any:
    from ropg.multistage.config import MultistageConfig

    overrides = {key[len("set:") :]: value for key, value in args.items() if key.startswith("set:")}
    return MultistageConfig.load(
        args.get("config"), overrides, profile="cpu" if args.get("cpu") else None
    )


def _print(facts: Any) -> None:
    print(json.dumps(facts, indent=1, sort_keys=True, default=str))


@user_errors_exit_2
def main(argv: Sequence[str] | None = None) -> int:
    import logging

    args = vars(build_parser().parse_args(argv))
    verbose, quiet = args.pop("verbose", 0), args.pop("quiet", False)
    setup_logging(verbose, quiet)
    if args["command"] == "synthetic":
        from ropg.multistage.synthetic import write_sample

        print(write_sample(args["out"], args["users"], args["seed"]))
        return 0
    if not verbose and not quiet:  # stage progress is worth seeing by default
        logging.getLogger("ropg.multistage").setLevel(logging.INFO)
    config = load_config(args)
    if args.get("print_config"):
        import yaml

        yaml.safe_dump(config.to_dict(), sys.stdout, sort_keys=False, allow_unicode=True)
        return 0
    from ropg.multistage import api

    command = args["command"]
    if command == "build-data":
        _print(api.build_data(config))
    elif command == "train":
        _print(api.train_stage(config, args["stage"], args.get("row")))
    elif command == "evaluate":
        _print(api.evaluate(config, args.get("row") or config.rows[-1]))
    else:
        result = api.run_pipeline(config)
        print(open(result["table"], encoding="utf-8").read(), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
