"""Shared CLI plumbing: logging setup and turning user errors into exit code 2."""

from __future__ import annotations

import argparse
import errno
import functools
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from ropg.errors import UserError
from ropg.generation.errors import GenerationError

USER_ERROR_EXIT = 2
USER_ERRORS: tuple[type[BaseException], ...] = (UserError, GenerationError)
"""Errors that are the user's to fix: one line on stderr and exit code 2."""
ENVIRONMENT_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EMFILE}
)
"""``OSError`` codes without a file name that still say what the user can fix (a full disk)."""


def user_error_message(error: BaseException) -> str | None:
    """The one-line message of a user error, or None when ``error`` is not one.

    User errors are, by class: :class:`~ropg.errors.UserError` (and ``DataError``, which
    names the file, record and field), :class:`~ropg.generation.GenerationError`, an
    ``OSError`` with a file name (missing, unreadable, a directory, ...) or a code such as
    a full disk, and a ``RecursionError`` (a JSON or YAML document nested too deeply to read).
    """
    if isinstance(error, USER_ERRORS):
        return " ".join(str(error).splitlines()) or type(error).__name__
    if isinstance(error, OSError):
        if error.filename is not None:
            return f"{error.filename}: {error.strerror or error}"
        if error.errno in ENVIRONMENT_ERRNOS:
            return f"{error.strerror or error}"
        return None
    if isinstance(error, RecursionError):
        return "an input is nested too deeply to read (RecursionError); check the input files"
    return None


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


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's final flush does not fail too."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _flush_quietly() -> None:
    try:
        sys.stdout.flush()
    except (OSError, ValueError):
        pass


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
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError:  # `ropg ... | head`: the reader left; nothing to report
            _silence_stdout()
            return 141
        except (Exception, RecursionError) as error:
            message = user_error_message(error)
            if message is None:
                raise
            _flush_quietly()
            print(f"error: {message}", file=sys.stderr)
            return USER_ERROR_EXIT

    return wrapper
