"""Generators by spec string: ``BACKEND:TARGET``, a ``module:Class[:TARGET]`` plug-in path,
or a ``ropg.generators`` entry point.

Built-in backends::

    hf:google/flan-t5-xxl            hf:/path/to/model
    vllm:meta-llama/Llama-3.1-8B-Instruct
    ct2:google/flan-t5-xxl           ct2:/path/to/hf-or-converted-model   (CTranslate2)
    openai:http://host:8000/v1#model-name        (completions)
    openai-chat:http://host:8000/v1#model-name   (chat completions)
    reader:profile                   (retrieval-only baseline, no LLM)

A backend factory is called as ``factory(target, **options)``; a class is built with its
``from_spec(target, **options)`` when it has one. Backends are imported only when used.

A ``module:Class`` path or an entry point (from a command line or a shared YAML config) is
checked to be a generator class — one with ``generate`` and ``identity`` — or a factory marked
with ``ropg.utils.plugins.plugin_factory("generator")`` before anything of it is called, so
``--llm os:system`` runs nothing. Built-in and :func:`register_generator` backends are code
the user installed and are trusted as they are.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any

from ropg.errors import UserError
from ropg.generation.errors import GenerationError

ENTRY_POINT_GROUP = "ropg.generators"

# name -> factory, or the "module:attribute" path of one (imported on first use)
_BACKENDS: dict[str, Callable[..., Any] | str] = {
    "hf": "ropg.generation.hf:HFGenerator",
    "vllm": "ropg.generation.vllm_backend:VLLMGenerator",
    "ct2": "ropg.generation.ct2_backend:CT2Generator",
    "openai": "ropg.generation.openai_backend:OpenAIGenerator.from_spec",
    "openai-chat": "ropg.generation.openai_backend:OpenAIGenerator.chat_from_spec",
    "reader": "ropg.lamp.reader:ProfileReader.from_spec",  # a LaMP baseline, loaded by name
}
GENERATOR_MEMBERS = ("generate", "identity")
"""What a generator class must have (:class:`~ropg.generation.base.Generator`)."""
# a dotted Python name: the module and the attribute of a ``module:attribute`` path
_DOTTED = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*$")


@dataclass(frozen=True)
class GeneratorSpec:
    """A parsed spec: a backend name (or ``module:Attribute`` path) and its target."""

    backend: str
    target: str


def register_generator(name: str, factory: Callable[..., Any] | str) -> None:
    """Make ``get_generator(f"{name}:TARGET")`` call ``factory(TARGET, **options)``.

    ``factory`` may be a callable or a ``module:attribute`` path imported on first use.
    """
    if not name or ":" in name:
        raise ValueError(f"a backend name must be non-empty and contain no ':': {name!r}")
    _BACKENDS[name] = factory


def _entry_point_names() -> set[str]:
    return {entry.name for entry in entry_points(group=ENTRY_POINT_GROUP)}


def generator_names() -> list[str]:
    """Built-in, registered and entry-point backend names."""
    return sorted(set(_BACKENDS) | _entry_point_names())


def _load_dotted(path: str) -> Any:
    module_name, _, attribute = path.partition(":")
    try:
        value: Any = importlib.import_module(module_name)
    except ImportError as error:
        raise GenerationError(f"cannot import generator module {module_name!r}: {error}") from error
    for part in attribute.split("."):
        try:
            value = getattr(value, part)
        except AttributeError:
            raise GenerationError(f"module {module_name!r} has no {attribute!r}") from None
    return value


def parse_generator_spec(spec: str) -> GeneratorSpec:
    """Split a spec into backend and target.

    ``NAME:TARGET`` when NAME is a known backend (built-in, registered or entry point);
    otherwise ``module.path:Attribute`` or ``module.path:Attribute:TARGET``.
    """
    name, colon, rest = spec.partition(":")
    if not colon:
        raise GenerationError(
            f"generator spec {spec!r} has no backend; write e.g. 'hf:{spec}', 'vllm:{spec}' "
            f"or 'openai:http://host:8000/v1#{spec}' (backends: {', '.join(generator_names())})"
        )
    if name in _BACKENDS or name in _entry_point_names():
        if not rest:
            raise GenerationError(f"generator spec {spec!r} names no model after '{name}:'")
        return GeneratorSpec(name, rest)
    attribute, _, target = rest.partition(":")
    if _DOTTED.match(name) and _DOTTED.match(attribute):
        return GeneratorSpec(f"{name}:{attribute}", target)
    raise GenerationError(
        f"unknown generator backend {name!r} in {spec!r}; built-ins: "
        f"{', '.join(generator_names())}; or give a 'module:Class[:target]' path"
    )


def _checked(value: Any, spec: str) -> Any:
    """``value`` when it is a generator plug-in (see the module docstring), else refused."""
    from ropg.utils.plugins import check_plugin

    try:
        return check_plugin(value, spec, "generator", members=GENERATOR_MEMBERS)
    except UserError as error:
        raise GenerationError(str(error)) from None


def _factory(backend: str) -> Callable[..., Any]:
    if backend in _BACKENDS:  # built-in or registered in code: trusted
        factory = _BACKENDS[backend]
        return _load_dotted(factory) if isinstance(factory, str) else factory
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name == backend:
            return _checked(entry.load(), f"{ENTRY_POINT_GROUP}:{backend}")
    return _checked(_load_dotted(backend), backend)


def check_generator_spec(spec: str) -> None:
    """Check a spec without building anything: it parses, and a plug-in path or entry point
    resolves to a generator class or marked factory (built-in backends are not imported)."""
    backend = parse_generator_spec(spec).backend
    if backend not in _BACKENDS:
        _factory(backend)


def resolve_generator_factory(spec: str) -> Callable[..., Any]:
    """The (checked) factory behind a generator spec, without calling it: a config can be
    checked when it loads, before any work."""
    return _factory(parse_generator_spec(spec).backend)


def runtime_options(spec: str) -> frozenset[str]:
    """The runtime options (``device``, ``show_progress``) the backend of ``spec`` declares
    (its class's ``runtime_options``; none for factories that declare nothing)."""
    factory = _factory(parse_generator_spec(spec).backend)
    owner = getattr(factory, "__self__", factory)  # a classmethod factory: its class
    declared = getattr(owner, "runtime_options", frozenset())
    return (
        frozenset(declared) if isinstance(declared, (set, frozenset, tuple, list)) else frozenset()
    )


def get_generator(spec: str, **options: Any) -> Any:
    """Build a generator from a spec string; ``options`` go to its factory.

    >>> get_generator("hf:google/flan-t5-base", dtype="bf16")  # doctest: +SKIP
    """
    parsed = parse_generator_spec(spec)
    factory = _factory(parsed.backend)
    if not callable(factory):
        raise GenerationError(
            f"{spec!r} did not build a generator: {parsed.backend} is not callable"
        )
    from_spec = getattr(factory, "from_spec", None)
    if from_spec is not None and parsed.target:
        generator = from_spec(parsed.target, **options)
    elif parsed.target:
        generator = factory(parsed.target, **options)
    else:
        generator = factory(**options)
    if not callable(getattr(generator, "generate", None)) or not hasattr(generator, "identity"):
        raise GenerationError(f"{spec!r} did not build a generator (needs generate and identity)")
    return generator
