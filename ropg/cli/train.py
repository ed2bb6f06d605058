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
from collections.abc import Sequence

from ropg.cli.common import user_errors_exit_2
from ropg.cli.config_flags import build_config_parser, parse_config


def build_parser() -> argparse.ArgumentParser:
    """One flag per config field (defaults suppressed, so only given flags override)."""
    from ropg.training.config import RopgTrainConfig

    return build_config_parser("ropg-train", __doc__.split("\n")[0], RopgTrainConfig)


@user_errors_exit_2
def main(argv: Sequence[str] | None = None) -> int:
    from ropg.training.config import RopgTrainConfig

    config, printed, _ = parse_config(build_parser(), argv, RopgTrainConfig, ["ropg.training"])
    if printed:
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
