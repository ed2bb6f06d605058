"""Shared CLI plumbing: logging setup and turning user errors into exit code 2."""

from __future__ import annotations

import argparse
import functools
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

from ropg.errors import UserError
from ropg.generation.errors import GenerationError

USER_ERROR_EXIT = 2
USER_ERRORS: tuple[type[BaseException], ...] = (
    UserError,
    GenerationError,
    FileNotFoundError,
    PermissionError,
)


def setup_logging(verbose: int = 0, quiet: bool = False) -> None:
    """Log to stderr: warnings by default, info with ``-v``, debug with ``-vv``."""
    level = (
        logging.ERROR if quiet else [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    )
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", force=True)


def parse_options(pairs: Sequence[str] | None, flag: str) -> dict[str, Any]:
    """``["k1=v", "k2=3"]`` -> ``{"k1": "v", "k2": 3}`` (values parsed as YAML scalars)."""
    from ropg.utils.config import parse_key_values

    return parse_key_values(pairs, flag)


def add_data_flags(parser: Any, default_split: str) -> None:
    """``--data --questions --task --split --layout``: where a LaMP split is read from."""
    from ropg.lamp.data import LAYOUTS, SPLITS

    parser.add_argument("--data", help="LaMP data directory (time- or user-based layout)")
    parser.add_argument("--questions", help="a questions file (instead of finding it in --data)")
    parser.add_argument("--task", required=True, help="LaMP-1 .. LaMP-7, LaMP-2-old (or LaMP_k)")
    parser.add_argument(
        "--split", default=default_split, choices=SPLITS, help=f"default: {default_split}"
    )
    parser.add_argument("--layout", default="auto", choices=LAYOUTS, help="data layout")


def add_logging_flags(parser: argparse.ArgumentParser) -> None:
    """``-v/--verbose`` (repeatable) and ``-q/--quiet``."""
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv)")
    parser.add_argument("-q", "--quiet", action="store_true", help="errors only")


def user_errors_exit_2(
    main: Callable[[Sequence[str] | None], int],
) -> Callable[[Sequence[str] | None], int]:
    """Wrap a CLI ``main``: a user error prints one line to stderr and returns exit code 2."""

    @functools.wraps(main)
    def wrapper(argv: Sequence[str] | None = None) -> int:
        try:
            return main(argv)
        except USER_ERRORS as error:
            if isinstance(error, OSError) and error.filename is not None:
                message = f"{error.filename}: {error.strerror}"
            else:
                message = str(error)
            print(f"error: {message}", file=sys.stderr)
            return USER_ERROR_EXIT
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130

    return wrapper
