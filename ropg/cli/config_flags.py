"""Command lines built from a dataclass config: one ``--flag`` per field, YAML, ``--print-config``.

Used by ``ropg-train`` and ``rspg-train``: every field of the config class is a flag
(``--key value``, ``--key-name`` or ``--key_name``) that overrides the ``--config`` YAML file;
defaults are suppressed so that only the flags given override it.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import typing
from collections.abc import Sequence
from typing import Any

from ropg.cli.common import add_logging_flags, setup_logging


def build_config_parser(
    prog: str, description: str, config_class: type[Any]
) -> argparse.ArgumentParser:
    """A parser with ``--config``, ``--print-config``, logging flags and one flag per field."""
    parser = argparse.ArgumentParser(
        prog=prog, description=description, argument_default=argparse.SUPPRESS
    )
    parser.add_argument("--config", help="YAML file of settings (flags override it)")
    parser.add_argument(
        "--print-config", action="store_true", help="print the resolved settings and exit"
    )
    hints = typing.get_type_hints(config_class)
    defaults = config_class()
    for item in dataclasses.fields(config_class):
        flags = [f"--{item.name.replace('_', '-')}"]
        if "_" in item.name:
            flags.append(f"--{item.name}")
        default = getattr(defaults, item.name)
        text = f"{item.metadata.get('help', '')} (default: {default!r})".replace("%", "%%")
        annotation = hints[item.name]
        if typing.get_origin(annotation) is list:
            metavar = item.metadata.get("metavar", "PATH")
            parser.add_argument(*flags, dest=item.name, nargs="+", metavar=metavar, help=text)
        elif annotation is bool:
            parser.add_argument(
                *flags, dest=item.name, nargs="?", const="true", metavar="BOOL", help=text
            )
        elif "const" in item.metadata:  # a bare --flag means the field's const
            metavar = item.metadata.get("metavar", item.name.upper())
            const = item.metadata["const"]
            parser.add_argument(
                *flags, dest=item.name, nargs="?", const=const, metavar=metavar, help=text
            )
        else:
            parser.add_argument(*flags, dest=item.name, metavar=item.name.upper(), help=text)
    add_logging_flags(parser)
    return parser


def parse_config(
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None,
    config_class: type[Any],
    progress_loggers: Sequence[str],
) -> tuple[Any, bool, dict[str, Any]]:
    """Parse ``argv``: ``(config, printed, extra)``.

    Sets up logging (``progress_loggers`` at INFO unless ``-q``/``-v`` is given); when
    ``--print-config`` is given the resolved config is printed as YAML and ``printed`` is True.
    ``extra`` holds the parsed arguments that are not config fields (flags a command adds).
    """
    import logging

    args = vars(parser.parse_args(argv))
    verbose, quiet = args.pop("verbose", 0), args.pop("quiet", False)
    setup_logging(verbose, quiet)
    if not quiet and not verbose:  # training progress is worth seeing by default
        for name in progress_loggers:
            logging.getLogger(name).setLevel(logging.INFO)
    config_path = args.pop("config", None)
    print_config = args.pop("print_config", False)
    known = {item.name for item in dataclasses.fields(config_class)}
    extra = {key: args.pop(key) for key in list(args) if key not in known}
    config = config_class.load(config_path, args)
    if print_config:
        import yaml

        yaml.safe_dump(config.to_dict(), sys.stdout, sort_keys=False, allow_unicode=True)
    return config, print_config, extra
