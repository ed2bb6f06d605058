"""A synthetic, personalization-sensitive LaMP dataset generator and the shipped sample.

The generator writes all seven LaMP tasks (and LaMP-2-old on request) in the time-based layout
``DIR/time/LaMP_k/{split}/{split}_questions.json`` (+ ``_outputs.json`` for train and dev), with
inputs that follow the official templates character for character. Each user has three topics
and stable per-topic preferences (a favourite tag, a rating bias, a title signature, a hashtag),
so the profile items that share words with an input predict its gold output better than random
items do. Hard cases are included: empty and one-item profiles, a ``--max-profile``-sized profile,
texts of more than 600 words and non-ASCII text (accents, CJK, emoji).

The sample shipped in ``ropg/data/sample`` (see :func:`sample_path`) was made with::

    python -m ropg.lamp.synthetic --out ropg/data/sample --users 40 --seed 13 --max-profile 1200

Output is byte-identical for the same arguments.
"""

from __future__ import annotations

from pathlib import Path

from ropg.lamp.synthetic.generate import DEFAULT_TASKS, KNOWN_TASKS, generate, main, plan_users

SAMPLE_COMMAND = (
    "python -m ropg.lamp.synthetic --out ropg/data/sample --users 40 --seed 13 --max-profile 1200"
)


def sample_path() -> Path:
    """The directory of the shipped synthetic sample (time layout: ``time/LaMP_k/{split}``)."""
    import ropg

    return Path(ropg.__file__).resolve().parent / "data" / "sample"


__all__ = [
    "DEFAULT_TASKS",
    "KNOWN_TASKS",
    "SAMPLE_COMMAND",
    "generate",
    "main",
    "plan_users",
    "sample_path",
]
