"""Typed values for config dataclasses: YAML/JSON lists become tuples, dicts become
nested dataclasses, ints become floats where a float is declared; wrong types and unknown
keys are errors that say where."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Sequence
from typing import Any


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
            raise ValueError(f"{where}: expected a list, got {value!r}")
        args = typing.get_args(hint)
        item = args[0] if args else Any
        return tuple(coerce(v, item, where) for v in value)
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if hint in (int, float, str, bool) and not isinstance(value, hint):
        raise ValueError(f"{where}: expected {hint.__name__}, got {value!r}")
    return value


def from_dict(cls, data: dict[str, Any] | None, where: str = "config"):
    """A ``cls`` instance from a mapping, each value coerced to its field's type."""
    data = data or {}
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a mapping, got {data!r}")
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
            raise ValueError(f"{flag} expects KEY=VALUE, got {item!r}")
        out[key.strip()] = yaml.safe_load(raw)
    return out
