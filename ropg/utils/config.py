"""Dataclass configs as data: defaults, then a YAML file, then ``--key value`` overrides.

:class:`ConfigBase` gives a dataclass ``from_dict`` / ``load`` (with type coercion of YAML and
command-line strings and "did you mean" hints for unknown keys), ``save`` (a YAML file that is
itself a valid ``--config``) and ``result_dict`` (the settings that decide a run's result,
without the runtime ones listed in ``RUNTIME_FIELDS``). Subclasses list their checks in
:meth:`ConfigBase.checks`; every problem is a :class:`~ropg.errors.UserError`.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import os
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from ropg.errors import UserError

C = TypeVar("C", bound="ConfigBase")


def known_settings(cls: type, values: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``values`` keyed by field name (dashes become underscores) of the dataclass ``cls``.

    An unknown key is a :class:`UserError` naming ``where`` and the closest known setting.
    """
    known = {f.name for f in dataclasses.fields(cls)}
    result: dict[str, Any] = {}
    for key, value in values.items():
        name = str(key).replace("-", "_")
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UserError(f"unknown {where} setting {key!r}{hint}")
        result[name] = value
    return result


def coerce_settings(
    cls: type, values: Mapping[str, Any], where: str, skip: typing.Iterable[str] = ()
) -> dict[str, Any]:
    """``values`` keyed by field name of the dataclass ``cls`` (:func:`known_settings`), each
    converted to its field's type (:func:`coerce`: ``"4"`` -> 4, ``"abc"`` for an ``int`` a
    :class:`UserError` naming ``where`` and the setting). Fields in ``skip``, and fields
    whose type is not a plain scalar, list or mapping, are passed through as they are."""
    hints = typing.get_type_hints(cls)
    consts = {f.name: f.metadata.get("const") for f in dataclasses.fields(cls)}
    skipped = set(skip)
    result = {}
    for name, value in known_settings(cls, values, where).items():
        if name in skipped or not _coercible(hints[name]):
            result[name] = value
        elif typing.get_origin(hints[name]) is dict:  # values already typed: never re-parsed
            if value is not None and not isinstance(value, Mapping):
                raise UserError(f"{where} setting {name}: expected a mapping, got {value!r}")
            result[name] = {str(key): item for key, item in (value or {}).items()}
        else:
            result[name] = coerce(name, value, hints[name], const=consts[name], section=where)
    return result


def _coercible(annotation: Any) -> bool:
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return all(arg is type(None) or _coercible(arg) for arg in args)
    origin = typing.get_origin(annotation)
    if origin in (list, dict):
        return all(arg in (str, typing.Any) for arg in args)
    return annotation in (bool, int, float, str)


def check_overrides(cls: type, values: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Check settings meant for the config class ``cls`` (a :class:`ConfigBase`) without
    building the whole config: unknown names (``epoch`` for ``epochs``) and values of the
    wrong type are refused, and so is any value that makes one of ``cls``'s checks fail that
    its defaults pass (``epochs: 0``). Returns the converted values."""
    converted = coerce_settings(cls, values, where)
    base = cls()
    failing = {message for ok, message in base.checks() if not ok}
    try:
        changed = dataclasses.replace(base, **converted)
    except (TypeError, ValueError) as error:
        raise UserError(f"{where}: {error}") from None
    for ok, message in changed.checks():
        if not ok and message not in failing:
            raise UserError(f"{where}: {message}")
    return converted


class ConfigBase:
    """Mix-in for dataclass configs (see the module docstring).

    Class attributes: ``RUNTIME_FIELDS`` (settings that may change between a run and its
    resumption), ``SAVE_RESET`` (values written instead of the current ones by :meth:`save`).
    """

    RUNTIME_FIELDS: ClassVar[frozenset[str]] = frozenset()
    SAVE_RESET: ClassVar[Mapping[str, Any]] = {}
    SECTION: ClassVar[str] = "training"
    """What messages call the settings (``unknown training setting 'lrr'``)."""

    @classmethod
    def from_dict(cls: type[C], values: Mapping[str, Any]) -> C:
        """Build from a mapping (YAML or flags); unknown keys and bad values are LampErrors."""
        hints = typing.get_type_hints(cls)
        consts = {f.name: f.metadata.get("const") for f in dataclasses.fields(cls)}
        known = known_settings(cls, values, cls.SECTION)
        converted = {
            name: coerce(name, value, hints[name], const=consts[name], section=cls.SECTION)
            for name, value in known.items()
        }
        config = cls(**converted)
        config.validate()
        return config

    @classmethod
    def load(
        cls: type[C],
        path: str | os.PathLike[str] | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> C:
        """Defaults, then the YAML file at ``path``, then ``overrides``."""
        values: dict[str, Any] = dict(read_yaml(path)) if path else {}
        values.update({str(k).replace("-", "_"): v for k, v in (overrides or {}).items()})
        return cls.from_dict(values)

    def checks(self) -> list[tuple[bool, str]]:
        """``(ok, message)`` pairs; the first failing one is raised by :meth:`validate`."""
        return []

    def validate(self) -> None:
        """Raise a UserError naming the first bad setting."""
        for ok, message in self.checks():
            if not ok:
                raise UserError(f"{self.SECTION} config: {message}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    def result_dict(self) -> dict[str, Any]:
        """The settings that decide the result (runtime settings left out)."""
        return {k: v for k, v in self.to_dict().items() if k not in self.RUNTIME_FIELDS}

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the resolved config as YAML (atomically)."""
        import yaml

        from ropg.utils.io import atomic_open

        values = {**self.to_dict(), **self.SAVE_RESET}
        with atomic_open(path) as stream:
            yaml.safe_dump(values, stream, sort_keys=False, allow_unicode=True)


def field_help(text: str, **extra: Any) -> dict[str, Any]:
    """A config field's metadata: its ``--flag`` help text, plus any ``extra`` entries.

    Known extras: ``metavar`` (of a list or ``const`` flag) and ``const`` (the value of a bare
    ``--flag`` of a ``str`` field; a YAML/flag ``true`` then means it, ``false`` ``None``).
    """
    return {"help": text, **extra}


def positive(config: Any, names: typing.Iterable[str]) -> list[tuple[bool, str]]:
    """Checks that each named setting is ``>= 1`` (``None`` allowed for optional ones)."""
    checks = []
    for name in names:
        value = getattr(config, name)
        checks.append((value is None or value >= 1, f"{name} must be >= 1"))
    return checks


def read_yaml(path: str | os.PathLike[str]) -> Mapping[str, Any]:
    """A YAML mapping from a file (UserError when missing, unreadable or not a mapping)."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise UserError(f"{path}: unreadable YAML config ({str(error).splitlines()[0]})") from None
    except RecursionError:
        raise UserError(f"{path}: YAML nested too deeply to read") from None
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise UserError(f"{path}: a config file must hold a mapping of settings")
    return data


def parse_scalar(value: Any) -> Any:
    """A string parsed as a YAML scalar (``"1e-5"`` -> 1e-05, ``"[a, b]"`` -> a list); a string
    that is not valid YAML, or any non-string, unchanged."""
    if isinstance(value, str):
        import yaml

        try:
            return yaml.safe_load(value) if value.strip() else value
        except yaml.YAMLError:
            return value
    return value


def coerce(
    name: str, value: Any, annotation: Any, const: str | None = None, section: str = "training"
) -> Any:
    """Convert a YAML/flag value to the field's type (strings like ``"1e-5"`` are parsed).

    ``const``: the field's bare-flag value (metadata ``const``, e.g. ``resume``'s ``"latest"``);
    for a ``str`` field with one, ``true`` means ``const`` and ``false`` means ``None``.
    ``section`` names the settings in messages.
    """
    args = typing.get_args(annotation)
    origin = typing.get_origin(annotation)
    where = f"{section} setting {name}"
    if origin in (typing.Union, types.UnionType) and type(None) in args:
        if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
            return None
        inner = next(arg for arg in args if arg is not type(None))
        return coerce(name, value, inner, const, section)
    if origin is list:
        items = value if isinstance(value, (list, tuple)) else [value]
        return [str(item) for item in items if item is not None and str(item) != ""]
    if origin is dict:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise UserError(f"{where}: expected a mapping of KEY=VALUE, got {value!r}")
        return {str(key): parse_scalar(item) for key, item in value.items()}
    if annotation is bool:
        value = parse_scalar(value)
        if isinstance(value, bool):
            return value
        raise UserError(f"{where}: expected true or false, got {value!r}")
    if annotation in (int, float):
        parsed = parse_scalar(value)
        try:
            if isinstance(parsed, bool):
                raise ValueError
            number = annotation(float(parsed)) if annotation is float else int(parsed)
            if annotation is int and isinstance(parsed, float) and parsed != int(parsed):
                raise ValueError
        except (TypeError, ValueError):
            kind = "an integer" if annotation is int else "a number"
            raise UserError(f"{where}: expected {kind}, got {value!r}") from None
        return number
    if annotation is str:
        if isinstance(value, (dict, list)):
            raise UserError(f"{where}: expected a string, got {value!r}")
        if const is not None and isinstance(parse_scalar(value), bool):
            return const if parse_scalar(value) else None
        return str(value)
    return value


def parse_key_values(pairs: Sequence[str] | None, flag: str) -> dict[str, Any]:
    """``["k1=v", "k2=3"]`` -> ``{"k1": "v", "k2": 3}`` (values parsed as YAML scalars)."""
    import yaml

    options: dict[str, Any] = {}
    for pair in pairs or ():
        key, separator, value = pair.partition("=")
        if not separator or not key.strip():
            raise UserError(f"{flag} expects KEY=VALUE, got {pair!r}")
        try:
            options[key.strip()] = yaml.safe_load(value) if value else ""
        except yaml.YAMLError:
            raise UserError(f"{flag} {key.strip()}: cannot parse the value {value!r}") from None
    return options


def apply_override(values: dict[str, Any], override: str) -> None:
    """Set ``values[a][b][...] = parsed VALUE`` for ``"a.b...=VALUE"`` (list indices allowed).

    The one override syntax of every ropg command (``limit=10``, ``llms.0.spec=hf:...``).
    """
    key, separator, text = override.partition("=")
    if not separator or not key.strip():
        raise UserError(f"override {override!r} must be KEY=VALUE (e.g. limit=10)")
    value = parse_scalar(text)
    parts = key.strip().split(".")
    target: Any = values
    for position, part in enumerate(parts[:-1]):
        nxt = parts[position + 1]
        if isinstance(target, list):
            target = target[_index(target, part, key)]
            continue
        if not isinstance(target, dict):
            raise UserError(f"override {override!r}: {part!r} is not a mapping")
        if part not in target or target[part] is None:
            target[part] = [] if nxt.isdigit() else {}
        target = target[part]
    last = parts[-1]
    if isinstance(target, list):
        target[_index(target, last, key)] = value
    elif isinstance(target, dict):
        target[last] = copy.deepcopy(value)
    else:
        raise UserError(f"override {override!r}: {'.'.join(parts[:-1])} is not a mapping")


def _index(target: list[Any], part: str, key: str) -> int:
    if not part.isdigit() or int(part) >= len(target):
        raise UserError(f"override {key!r}: {part!r} is not an index of a {len(target)}-item list")
    return int(part)
