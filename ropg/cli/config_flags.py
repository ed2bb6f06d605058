"""Command lines built from a dataclass config: one ``--flag`` per field, YAML, overrides.

Every ropg command builds its flags here from its config class, so they all read alike:

- ``--config FILE.yaml``: the settings, as a YAML mapping;
- ``--key value`` (also ``--key-name``/``--key_name``): one flag per field, overriding the file;
  a list field takes several values, a bool field ``--flag`` alone means true, a mapping field
  is repeated as ``--key NAME=VALUE``;
- ``KEY=VALUE`` anywhere on the line: the same dotted overrides as ``benchmarks/run_all.py``
  (``lr=2e-5``, ``retriever_options.batch_size=64``), applied last;
- ``--print-config`` prints the resolved settings and exits; ``-v``/``-q`` set the logging.

Defaults are suppressed, so only what is given overrides the file.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import typing
from collections.abc import Sequence
from typing import Any

from ropg.cli.common import add_logging_flags, setup_logging

OVERRIDES = "overrides"


def add_config_flags(parser: argparse.ArgumentParser, config_class: type[Any]) -> None:
    """``--config``, ``--print-config``, one flag per field, ``KEY=VALUE`` overrides, logging."""
    parser.add_argument("--config", help="YAML file of settings (flags override it)")
    parser.add_argument(
        "--print-config", action="store_true", help="print the resolved settings and exit"
    )
    hints = typing.get_type_hints(config_class)
    defaults = config_class()
    for item in dataclasses.fields(config_class):
        if not item.init or item.metadata.get("hidden"):
            continue
        flags = [f"--{item.name.replace('_', '-')}"]
        if "_" in item.name:
            flags.append(f"--{item.name}")
        flags += list(item.metadata.get("aliases", ()))
        default = getattr(defaults, item.name)
        text = f"{item.metadata.get('help', '')} (default: {default!r})".replace("%", "%%")
        annotation = hints[item.name]
        origin = typing.get_origin(annotation)
        if origin is list:
            metavar = item.metadata.get("metavar", "PATH")
            parser.add_argument(*flags, dest=item.name, nargs="+", metavar=metavar, help=text)
        elif origin is dict:
            metavar = item.metadata.get("metavar", "KEY=VALUE")
            parser.add_argument(
                *flags, dest=item.name, action="append", metavar=metavar, help=text + "; repeat"
            )
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
    parser.add_argument(
        OVERRIDES, nargs="*", metavar="KEY=VALUE", help="dotted overrides, applied last"
    )
    add_logging_flags(parser)


def build_config_parser(
    prog: str, description: str, config_class: type[Any]
) -> argparse.ArgumentParser:
    """A parser with :func:`add_config_flags` for ``config_class``."""
    parser = argparse.ArgumentParser(
        prog=prog, description=description, argument_default=argparse.SUPPRESS
    )
    add_config_flags(parser, config_class)
    return parser


def parse_config(
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None,
    config_class: type[Any],
    progress_loggers: Sequence[str] = (),
) -> tuple[Any, bool, dict[str, Any]]:
    """Parse ``argv`` (options and overrides in any order): ``(config, printed, extra)``.

    Sets up logging (``progress_loggers`` at INFO unless ``-q``/``-v`` is given); when
    ``--print-config`` is given the resolved config is printed as YAML and ``printed`` is True.
    ``extra`` holds the parsed arguments that are not config fields (flags a command adds).
    """
    import logging

    from ropg.utils.config import apply_override, parse_key_values, read_yaml

    argv = list(sys.argv[1:] if argv is None else argv)
    args = vars(parser.parse_intermixed_args(argv))
    verbose, quiet = args.pop("verbose", 0), args.pop("quiet", False)
    setup_logging(verbose, quiet)
    if not quiet and not verbose:  # progress is worth seeing by default
        for name in progress_loggers:
            logging.getLogger(name).setLevel(logging.INFO)
    config_path = args.pop("config", None)
    print_config = args.pop("print_config", False)
    overrides = args.pop(OVERRIDES, None) or []
    hints = typing.get_type_hints(config_class)
    fields = {item.name: item for item in dataclasses.fields(config_class)}
    known = set(fields)
    extra = {key: args.pop(key) for key in list(args) if key not in known}
    values: dict[str, Any] = dict(read_yaml(config_path)) if config_path else {}
    for key, value in args.items():
        if typing.get_origin(hints[key]) is dict:  # --key NAME=VALUE, repeated
            flag = next(iter(fields[key].metadata.get("aliases", ())), None)
            flag = flag or f"--{key.replace('_', '-')}"
            value = {**dict(values.get(key) or {}), **parse_key_values(value, flag)}
        values[key] = value
    for override in overrides:
        apply_override(values, override)
    config = config_class.from_dict(values)
    if print_config:
        import yaml

        yaml.safe_dump(config.to_dict(), sys.stdout, sort_keys=False, allow_unicode=True)
    return config, print_config, extra
