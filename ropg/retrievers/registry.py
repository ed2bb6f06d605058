"""Retriever registry: built-in names, `module:Class` paths and `ropg.retrievers` entry points.

A path or entry point from a command line or a (shared) YAML config is checked to be a
retriever class — one with ``rank`` and ``rank_batch`` — or a factory marked with
``ropg.utils.plugins.plugin_factory("retriever")`` before anything of it is called, so
``--retriever os:system`` is refused without running anything.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any, TypeVar

from ropg.errors import UserError
from ropg.utils.plugins import load_entry_point, load_plugin

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "ropg.retrievers"
_REGISTRY: dict[str, Callable[..., Any]] = {}
T = TypeVar("T")


def register_retriever(name: str) -> Callable[[T], T]:
    """Class decorator: make a retriever available as ``get_retriever(name)``."""

    def decorate(factory: T) -> T:
        _REGISTRY[name] = factory  # type: ignore[assignment]
        return factory

    return decorate


def _ensure_builtins() -> None:
    importlib.import_module("ropg.retrievers.builtins")


RETRIEVER_MEMBERS = ("rank", "rank_batch")
"""What a retriever class must have (:class:`~ropg.retrievers.base.Retriever`)."""


def _load_dotted(spec: str) -> Callable[..., Any]:
    """A ``module:Class`` path, checked to be a retriever class (or a factory marked with
    ``plugin_factory("retriever")``) before anything of it is called."""
    return load_plugin(spec, "retriever", members=RETRIEVER_MEMBERS)


def _load_entry_point(name: str) -> Callable[..., Any] | None:
    return load_entry_point(ENTRY_POINT_GROUP, name, "retriever", members=RETRIEVER_MEMBERS)


def resolve_retriever_factory(name: str) -> Callable[..., Any]:
    """The class or factory behind a retriever name: a built-in or registered name, a
    checked ``module:Class`` path or a checked ``ropg.retrievers`` entry point."""
    _ensure_builtins()
    name = str(name)
    if name in _REGISTRY:
        return _REGISTRY[name]
    if ":" in name:
        return _load_dotted(name)
    factory = _load_entry_point(name)
    if factory is not None:
        return factory
    raise UserError(
        f"unknown retriever {name!r}; built-ins: {', '.join(retriever_names())}; "
        "or give a 'module:Class' path or a 'ropg.retrievers' entry point"
    )


def accepts_option(name: str, option: str) -> bool:
    """Whether the factory of retriever ``name`` takes the keyword ``option`` (``cache_dir``)."""
    import inspect

    try:
        parameters = inspect.signature(resolve_retriever_factory(name)).parameters
    except (TypeError, ValueError):
        return False
    return option in parameters  # a named parameter: **options may well refuse it


def get_retriever(name: str, **options: Any) -> Any:
    """Build a retriever from a built-in name, a ``module:Class`` path or an entry point."""
    retriever = resolve_retriever_factory(name)(**options)
    if not hasattr(retriever, "rank") or not hasattr(retriever, "rank_batch"):
        raise UserError(f"retriever {name!r} has no rank/rank_batch methods")
    return retriever


def retriever_names() -> list[str]:
    """Built-in and entry-point retriever names."""
    _ensure_builtins()
    names = set(_REGISTRY)
    names.update(entry.name for entry in entry_points(group=ENTRY_POINT_GROUP))
    return sorted(names)
