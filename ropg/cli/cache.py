"""``ropg cache ...``: inspect the generation cache.

``main(["cache", "stats", "--cache", PATH])`` is the whole ``ropg`` command line after the
program name; :func:`cache_main` takes what follows ``cache``; :func:`add_cache_commands`
adds the same commands to another argparse tree. User errors exit with code 2 and one line
on stderr, without a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from ropg.cli.common import user_errors_exit_2
from ropg.generation.cache import GenerationCache, default_cache_path


def _stats(args: argparse.Namespace) -> int:
    with GenerationCache(args.cache, create=False) as cache:
        stats = cache.stats()
    if args.json:
        print(json.dumps(stats.to_dict(), indent=2, sort_keys=True))
    else:
        print(stats.format())
    return 0


def add_cache_commands(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``cache {stats}`` to an argparse subparsers object; returns the ``cache`` parser."""
    cache = subparsers.add_parser("cache", help="inspect the generation cache")
    commands = cache.add_subparsers(dest="cache_command", required=True, metavar="COMMAND")
    stats = commands.add_parser("stats", help="entries, hit rate and size on disk")
    stats.add_argument(
        "--cache",
        default=None,
        metavar="PATH",
        help=f"the cache file (default: $ROPG_CACHE_DIR or {default_cache_path()})",
    )
    stats.add_argument("--json", action="store_true", help="print JSON")
    stats.set_defaults(handler=_stats)
    return cache


def build_parser(prog: str = "ropg") -> argparse.ArgumentParser:
    """The parser behind :func:`main`."""
    parser = argparse.ArgumentParser(prog=prog, description="ropg generation cache tools")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_cache_commands(commands)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run parsed arguments (the handler their command set); returns the exit code."""
    return int(args.handler(args))


@user_errors_exit_2
def main(argv: Sequence[str] | None = None) -> int:
    """``ropg cache stats [--cache PATH] [--json]``; returns the exit code."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit:  # argparse already printed usage and the error (or --help)
        return exit.code if isinstance(exit.code, int) else 2
    return run(args)


def cache_main(argv: Sequence[str] | None = None) -> int:
    """The same, given only the words after ``cache`` (``["stats", "--cache", PATH]``)."""
    return main(["cache", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
