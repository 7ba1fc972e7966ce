"""Typed values for config dataclasses: YAML/JSON lists become tuples, dicts become
nested dataclasses, ints become floats where a float is declared; wrong types and unknown
keys are errors that say where."""

from __future__ import annotations

import dataclasses
import math
import reprlib
import types
import typing
from collections.abc import Sequence
from typing import Any

MAX_VALUES = 100_000  # values a recipe may expand to (YAML aliases can nest exponentially)


def short_repr(value: Any, limit: int = 80) -> str:
    """``repr`` cut to ``limit`` characters, for error messages about untrusted values."""
    shortener = reprlib.Repr()
    shortener.maxstring = shortener.maxother = limit
    shortener.maxlist = shortener.maxdict = 6
    shortener.maxlevel = 3
    text = shortener.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def count_values(value: Any, limit: int = MAX_VALUES, where: str = "the recipe") -> int:
    """The values a parsed YAML tree expands to, each alias counted again; above ``limit``
    a ``ValueError`` (an alias bomb costs seconds and gigabytes to expand)."""
    count, stack = 0, [value]
    while stack:
        item = stack.pop()
        count += 1
        if count > limit:
            raise ValueError(
                f"{where} expands to more than {limit:,} values (nested YAML aliases?)"
            )
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return count


def coerce(value: Any, hint: Any, where: str) -> Any:
    """Turn YAML values into the field's type (tuples from lists, floats from ints)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        return coerce(value, inner[0], where)
    if dataclasses.is_dataclass(hint):
        return value if isinstance(value, hint) else from_dict(hint, value, where)
    if origin is tuple or hint is tuple:
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{where}: expected a list, got {short_repr(value)}")
        args = typing.get_args(hint)
        item = args[0] if args else Any
        return tuple(coerce(v, item, where) for v in value)
    if hint in (int, float) and isinstance(value, bool):  # YAML's true is not a number
        raise ValueError(f"{where}: expected {hint.__name__}, got {short_repr(value)}")
    if hint is float and isinstance(value, (int, float)):
        if not math.isfinite(value):
            raise ValueError(f"{where}: expected a finite number, got {short_repr(value)}")
        return float(value)
    if hint is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if hint in (int, float, str, bool) and not isinstance(value, hint):
        raise ValueError(f"{where}: expected {hint.__name__}, got {short_repr(value)}")
    return value


def from_dict(cls, data: dict[str, Any] | None, where: str = "config"):
    """A ``cls`` instance from a mapping, each value coerced to its field's type."""
    data = data or {}
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a mapping, got {short_repr(data)}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; valid: {', '.join(names)}")
    return cls(**{k: coerce(v, hints[k], f"{where}.{k}") for k, v in data.items()})


def parse_assignments(items: Sequence[str], flag: str = "--set") -> dict[str, Any]:
    """``KEY=VALUE`` items (``--set`` on every command) -> {key: value}, values parsed as
    YAML (``optim.lr=1e-3`` gives a float, ``data.short_side=[32, 36]`` a list); a later
    item wins over an earlier one of the same key."""
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{flag} expects KEY=VALUE, got {short_repr(item)}")
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError as e:
            raise ValueError(f"{flag} {key.strip()}: not a YAML value ({_problem(e)})") from None
        count_values(value, where=f"{flag} {key.strip()}")
        out[key.strip()] = value
    return out


def _problem(error: Exception) -> str:
    mark = getattr(error, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    return f"{getattr(error, 'problem', None) or error}{where}"


def load_yaml_file(path: Any) -> Any:
    """A YAML file's tree, with one-line errors for syntax and size."""
    import yaml

    try:
        tree = yaml.safe_load(open(path).read())
    except yaml.YAMLError as e:
        raise ValueError(f"{path}: not valid YAML: {_problem(e)}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a text file") from None
    count_values(tree, where=str(path))
    return tree
