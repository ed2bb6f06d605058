"""Checks of a loaded benchmark config that look beyond its own fields: the retrievers it
names resolve (a plug-in path checked, never called), and the settings files its family
sections name exist and hold known settings of the right types."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ropg.errors import UserError

if TYPE_CHECKING:
    from ropg.benchmark.config import BenchmarkConfig


def check_plugins(config: BenchmarkConfig) -> None:
    """Every pool retriever (and RRF member) names a built-in, registered or checked
    plug-in retriever; nothing is built or called."""
    from ropg.retrievers.registry import resolve_retriever_factory

    for name, entry in config.retrievers.items():
        try:
            resolve_retriever_factory(entry.retriever)
            members = entry.options.get("retrievers", ()) if entry.retriever == "rrf" else ()
            for member in members if isinstance(members, (list, tuple)) else ():
                if isinstance(member, str) and member not in config.retrievers:
                    resolve_retriever_factory(member)
        except UserError as error:
            raise UserError(f"retrievers.{name}: {error}") from None


def check_settings_files(config: BenchmarkConfig) -> None:
    """Settings files a family section names (field metadata ``settings_file_of``: the
    config class they are for) exist and hold only known settings of the right types."""
    from ropg.utils.config import check_overrides, read_yaml
    from ropg.utils.plugins import import_trusted

    for family in config.sections.values():
        settings = family.settings
        if settings is None or not dataclasses.is_dataclass(settings):
            continue
        for item in dataclasses.fields(settings):
            target = item.metadata.get("settings_file_of")
            value = getattr(settings, item.name)
            if target is None or not value:
                continue
            files = value if isinstance(value, Mapping) else {"": value}
            for key, file in files.items():
                where = f"{family.name}.{item.name}" + (f".{key}" if key else "")
                path = config.path(file)
                if not path.is_file():
                    raise UserError(f"{where}: settings file {path} not found")
                check_overrides(import_trusted(target), read_yaml(path), f"{where} ({path})")
