"""``rpo-train``: train an RPO reflection model, one stage at a time.

    rpo-train --stage trajectories --config benchmarks/configs/rpo.yaml --task LaMP-2 \\
        --data LAMP_DIR --output-dir runs/rpo-lamp2      # g, rankings, teacher trajectories
    rpo-train --stage sft --config benchmarks/configs/rpo.yaml --output-dir runs/rpo-lamp2
    rpo-train --stage rl  --config benchmarks/configs/rpo.yaml --task LaMP-2 --data LAMP_DIR \\
        --output-dir runs/rpo-lamp2 --curriculum 4      # a fixed-K run instead of 2 -> 6
    accelerate launch -m ropg.cli.rpo_train --stage rl ...   # several GPUs
    rpo-train --stage sft ... --resume                       # after a crash

``rpo-trajectories`` is ``rpo-train --stage trajectories``. Each stage's settings
(:class:`~ropg.reflection.config.TrajectoryConfig`,
:class:`~ropg.reflection.train_config.RpoSftSettings`,
:class:`~ropg.reflection.train_config.RpoRlSettings`) are flags that override the YAML file
(flat, or its ``common`` section plus the stage's own); ``--print-config`` shows them.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from typing import Any

from ropg.cli.common import user_errors_exit_2
from ropg.cli.config_flags import build_config_parser, parse_config

PROGRESS_LOGGERS = ["ropg.reflection", "transformers.trainer"]


def _stages() -> dict[str, tuple[type[Any], Callable[[Any], dict[str, Any]]]]:
    from ropg.reflection.config import TrajectoryConfig
    from ropg.reflection.pipeline import prepare_training_data
    from ropg.reflection.rl import train_rl
    from ropg.reflection.sft import train_sft
    from ropg.reflection.train_config import RpoRlSettings, RpoSftSettings

    return {
        "trajectories": (TrajectoryConfig, prepare_training_data),
        "sft": (RpoSftSettings, train_sft),
        "rl": (RpoRlSettings, train_rl),
    }


STAGE_NAMES = ("trajectories", "sft", "rl")


def build_parser(stage: str) -> argparse.ArgumentParser:
    """The flags of one stage (one per config field) and ``--stage``."""
    config_class, _ = _stages()[stage]
    parser = build_config_parser(f"rpo-train --stage {stage}", __doc__.split("\n")[0], config_class)
    parser.add_argument("--stage", choices=STAGE_NAMES, required=True, help="the stage to run")
    return parser


def _stage_of(argv: Sequence[str] | None) -> str:
    chooser = argparse.ArgumentParser(add_help=False)
    chooser.add_argument("--stage", choices=STAGE_NAMES)
    known, _ = chooser.parse_known_args(argv)
    if known.stage is None:
        parser = argparse.ArgumentParser(prog="rpo-train", description=__doc__.split("\n")[0])
        parser.add_argument(
            "--stage", choices=STAGE_NAMES, required=True, help="then --help for its flags"
        )
        parser.parse_args(argv)  # prints the help or the error, and exits
    return str(known.stage)


@user_errors_exit_2
def main(argv: Sequence[str] | None = None) -> int:
    stage = _stage_of(argv)
    config_class, run = _stages()[stage]
    config, printed, _ = parse_config(build_parser(stage), argv, config_class, PROGRESS_LOGGERS)
    if printed:
        return 0
    facts = run(config)
    summary = {k: v for k, v in facts.items() if k not in ("log_history", "curriculum")}
    print(f"{stage}: {json.dumps(summary, default=str)}")
    return 0


def trajectories_main(argv: Sequence[str] | None = None) -> int:
    """``rpo-trajectories``: ``rpo-train --stage trajectories``."""
    import sys

    args = list(sys.argv[1:] if argv is None else argv)
    return main(["--stage", "trajectories", *args])


if __name__ == "__main__":
    raise SystemExit(main())
