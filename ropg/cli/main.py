"""``ropg``: umbrella command; ``ropg cache stats`` inspects the generation cache."""

from __future__ import annotations

from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    from ropg.generation.cli import main as cache_cli

    return cache_cli(argv)


if __name__ == "__main__":
    raise SystemExit(main())
