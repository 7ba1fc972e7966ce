"""Label names shipped with the library, so official weights predict named classes.

``label_names("kinetics400")`` -> the 400 Kinetics class names in the index order of the
official checkpoints (sorted names; ``kinetics600`` and ``kinetics700`` likewise);
``label_names("ssv2")`` -> the 174 Something-Something v2 templates in the order of its
``labels.json``. ``ssv2_flip_map.json`` lists the SSv2 classes a horizontal flip turns
into each other (for ``data.flip_map``).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_HERE = Path(__file__).resolve().parent


def available() -> list[str]:
    return sorted(p.stem for p in _HERE.glob("*.txt"))


@cache
def label_names(name: str) -> tuple[str, ...]:
    path = _HERE / f"{name}.txt"
    if not path.is_file():
        raise ValueError(f"no shipped label set {name!r}; available: {', '.join(available())}")
    return tuple(line for line in path.read_text().splitlines() if line)


def label_set_of_size(name: str, num_classes: int) -> tuple[str, ...] | None:
    """The shipped set of the same dataset as ``name`` with ``num_classes`` names, if any:
    ``("kinetics400", 600)`` -> the Kinetics-600 names (a K600 checkpoint of a K400 variant)."""
    dataset = name.rstrip("0123456789")
    if not dataset:
        return None
    for candidate in available():
        if candidate.rstrip("0123456789") == dataset and len(label_names(candidate)) == num_classes:
            return label_names(candidate)
    return None


def check_names(names, where: str) -> list[str]:
    """Class names as a list: strings, distinct, on one line each (labels.txt holds one a
    line); a bad one is an error naming it and ``where`` it comes from."""
    names = list(names)
    for name in names:
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"{where}: a class name must be non-empty text, got {name!r:.60}")
        if "\n" in name or "\r" in name:
            raise ValueError(f"{where}: the class name {name!r:.60} holds a line break")
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"{where}: duplicate class names {dupes[:5]}")
    return names
