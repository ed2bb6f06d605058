"""Plug-ins by ``module:Attribute`` path or entry point, checked before anything is called.

A path in a command line or a shared YAML config must never run an arbitrary callable
(``os:system``): :func:`load_plugin` imports the module, looks the attribute up and checks
that it is the kind of object it claims to be — a class with the members that kind needs
(e.g. a retriever class with ``rank_batch``), a subclass of an expected base, or a factory
marked with :func:`plugin_factory` — and refuses anything else with one line, before calling it.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from typing import Any, TypeVar

from ropg.errors import UserError

F = TypeVar("F", bound=Callable[..., Any])
_MARK = "__ropg_plugin_kind__"
_DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def plugin_factory(kind: str) -> Callable[[F], F]:
    """Mark a function as a factory of plug-ins of ``kind`` (``retriever``, ``generator``,
    ``family``), so that a ``module:function`` path to it is accepted."""

    def mark(function: F) -> F:
        setattr(function, _MARK, kind)
        return function

    return mark


def is_dotted_path(spec: str) -> bool:
    """Whether ``spec`` looks like ``package.module:Attribute[.attribute]``."""
    module, colon, attribute = spec.partition(":")
    return bool(colon) and bool(_DOTTED.match(module)) and bool(_DOTTED.match(attribute))


def _resolve(spec: str, kind: str) -> Any:
    module_name, _, attribute = spec.partition(":")
    try:
        value: Any = importlib.import_module(module_name)
    except ImportError as error:
        raise UserError(f"cannot import {kind} module {module_name!r}: {error}") from None
    for part in attribute.split("."):
        try:
            value = getattr(value, part)
        except AttributeError:
            raise UserError(f"module {module_name!r} has no {kind} {attribute!r}") from None
    return value


def check_plugin(
    value: Any,
    spec: str,
    kind: str,
    *,
    base: type | tuple[type, ...] | None = None,
    members: Sequence[str] = (),
) -> Any:
    """``value`` if it is a plug-in of ``kind``: a class (a subclass of ``base`` when given,
    else one with every member in ``members``), a bound classmethod of such a class, or a
    function marked with :func:`plugin_factory`; otherwise a :class:`UserError`."""
    if getattr(value, _MARK, None) == kind:
        return value
    owner = getattr(value, "__self__", None)  # a classmethod factory such as Class.from_spec
    candidate = owner if isinstance(owner, type) else value
    if isinstance(candidate, type):
        if base is not None and issubclass(candidate, base):
            return value
        if base is None and members and all(hasattr(candidate, name) for name in members):
            return value
    bases = base if isinstance(base, tuple) else (base,) if base is not None else ()
    wanted = (
        f"a subclass of {', '.join(b.__name__ for b in bases)}"
        if bases
        else f"a class with {', '.join(members)}"
    )
    raise UserError(
        f"{spec!r} is not a {kind} (it is {type(value).__name__} {getattr(value, '__name__', '')!s}"
        f"); a {kind} plug-in must be {wanted}, or a factory marked with "
        f"ropg.utils.plugins.plugin_factory({kind!r})"
    )


def load_plugin(
    spec: str,
    kind: str,
    *,
    base: type | tuple[type, ...] | None = None,
    members: Sequence[str] = (),
) -> Any:
    """Import ``module:Attribute`` and return it once :func:`check_plugin` accepts it."""
    if not is_dotted_path(spec):
        raise UserError(f"{spec!r} is not a {kind} name or a 'module:Class' path")
    return check_plugin(_resolve(spec, kind), spec, kind, base=base, members=members)


def import_trusted(path: str) -> Any:
    """The object at ``module:Attribute`` named by ropg's own code (not by a user): imported
    without the plug-in checks."""
    module_name, _, attribute = path.partition(":")
    value: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        value = getattr(value, part)
    return value


def load_entry_point(
    group: str,
    name: str,
    kind: str,
    *,
    base: type | tuple[type, ...] | None = None,
    members: Sequence[str] = (),
) -> Any | None:
    """The checked object of entry point ``name`` in ``group`` (None when there is none)."""
    for entry in entry_points(group=group):
        if entry.name == name:
            return check_plugin(entry.load(), f"{group}:{name}", kind, base=base, members=members)
    return None
