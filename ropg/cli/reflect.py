"""``ropg-reflect``: personalize a base model's answers with a trained RPO reflection model.

    ropg-reflect --config benchmarks/configs/rpo.yaml --task LaMP-2 --data LAMP_DIR \\
        --split dev --output-dir runs/rpo-lamp2 --reflection-model hf:runs/rpo-lamp2/rl/model
    ropg-reflect ... --rankings rspg-choice.json      # precomputed rankings, no retriever

For each input the base model writes the generic answer g (or ``--generic-file`` gives it),
the retriever ranks the profile on ``--query`` (input, generic or input+generic), and the
reflection model rewrites g from the top ``--top-k`` items. Every setting of
:class:`~ropg.reflection.config.ReflectConfig` is a flag that overrides the YAML file (flat,
or the ``common`` + ``reflect`` sections of a sectioned one). Outputs under
``OUTPUT_DIR/reflect/NAME/``: ``reflections.predictions.json`` (official LaMP format),
``reflections.jsonl`` (g, retrieved ids, reasoning, answer, fallback reason per input) and
``reflections.report.json``. A killed run resumes where it stopped; nothing finished is
generated again.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from ropg.cli.common import user_errors_exit_2
from ropg.cli.config_flags import build_config_parser, parse_config


def build_parser() -> argparse.ArgumentParser:
    """One flag per config field (defaults suppressed, so only given flags override)."""
    from ropg.reflection.config import ReflectConfig

    return build_config_parser("ropg-reflect", __doc__.split("\n")[0], ReflectConfig)


@user_errors_exit_2
def main(argv: Sequence[str] | None = None) -> int:
    from ropg.reflection.config import ReflectConfig

    config, printed, _ = parse_config(build_parser(), argv, ReflectConfig, ["ropg.reflection"])
    if printed:
        return 0
    from ropg.reflection.parser import FallbackCounts
    from ropg.reflection.pipeline import run_reflect

    facts = run_reflect(config)
    counts = FallbackCounts()
    counts.total = facts["fallbacks"]["reflections"]
    counts.counts.update(facts["fallbacks"]["by_reason"])
    print(f"wrote {facts['predictions']}")
    print(counts.format())
    if facts.get("metrics"):
        print(f"reflection: {json.dumps(facts['metrics'])}")
        print(f"generic g:  {json.dumps(facts['generic_metrics'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
