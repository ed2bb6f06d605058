"""``ropg-train``: train a dense retriever from LLM feedback with ROPG-KD or ROPG-RL.

    ropg-train --method kd --config benchmarks/configs/ropg-kd.yaml \\
        --task LaMP-3 --data LAMP_DIR --train-feedback lamp3-train.jsonl \\
        --dev-feedback lamp3-dev.jsonl --output-dir runs/lamp3-kd
    accelerate launch -m ropg.cli.train --method rl --config cfg.yaml ...   # several GPUs
    ropg-train --config cfg.yaml --output-dir runs/lamp3-kd --resume        # after a crash

Every setting of :class:`~ropg.training.config.RopgTrainConfig` is a flag (``--key value``,
``--key-name`` or ``--key_name``) that overrides the YAML file; ``--print-config`` shows the
resolved settings and exits. The trained encoder, ``train_config.yaml`` and ``metrics.json``
are written to ``--output-dir``; use it with ``get_retriever("dense", model=OUTPUT_DIR)``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import typing
from collections.abc import Sequence

from ropg.cli.common import add_logging_flags, setup_logging, user_errors_exit_2


def build_parser() -> argparse.ArgumentParser:
    """One flag per config field (defaults suppressed, so only given flags override)."""
    from ropg.training.config import RopgTrainConfig

    parser = argparse.ArgumentParser(
        prog="ropg-train",
        description=__doc__.split("\n")[0],
        argument_default=argparse.SUPPRESS,
    )
    parser.add_argument("--config", help="YAML file of settings (flags override it)")
    parser.add_argument(
        "--print-config", action="store_true", help="print the resolved settings and exit"
    )
    hints = typing.get_type_hints(RopgTrainConfig)
    defaults = RopgTrainConfig()
    for item in dataclasses.fields(RopgTrainConfig):
        flags = [f"--{item.name.replace('_', '-')}"]
        if "_" in item.name:
            flags.append(f"--{item.name}")
        default = getattr(defaults, item.name)
        text = f"{item.metadata.get('help', '')} (default: {default!r})"
        annotation = hints[item.name]
        if typing.get_origin(annotation) is list:
            parser.add_argument(*flags, dest=item.name, nargs="+", metavar="PATH", help=text)
        elif annotation is bool:
            parser.add_argument(
                *flags, dest=item.name, nargs="?", const="true", metavar="BOOL", help=text
            )
        elif item.name == "resume":
            parser.add_argument(
                *flags, dest=item.name, nargs="?", const="latest", metavar="CHECKPOINT", help=text
            )
        else:
            parser.add_argument(*flags, dest=item.name, metavar=item.name.upper(), help=text)
    add_logging_flags(parser)
    return parser


@user_errors_exit_2
def main(argv: Sequence[str] | None = None) -> int:
    args = vars(build_parser().parse_args(argv))
    verbose, quiet = args.pop("verbose", 0), args.pop("quiet", False)
    setup_logging(verbose, quiet)
    if not quiet and not verbose:  # training progress is worth seeing by default
        import logging

        logging.getLogger("ropg.training").setLevel(logging.INFO)
    from ropg.training.config import RopgTrainConfig

    config_path = args.pop("config", None)
    print_config = args.pop("print_config", False)
    config = RopgTrainConfig.load(config_path, args)
    if print_config:
        import yaml

        yaml.safe_dump(config.to_dict(), sys.stdout, sort_keys=False, allow_unicode=True)
        return 0
    from ropg.training.trainer import train

    result = train(config)
    if not result.main_process:
        return 0
    final = result.metrics.get("final", {})
    summary = {key: final[key] for key in ("epoch", "loss", "dev_top1", "dev_topk") if key in final}
    print(f"{'trained' if result.completed else 'stopped'}: {result.output_dir} {summary}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
