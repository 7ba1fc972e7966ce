"""Label names shipped with the library, so official weights predict named classes.

``label_names("kinetics400")`` -> the 400 Kinetics class names in the index order of the
official checkpoints (sorted names); ``label_names("ssv2")`` -> the 174 Something-Something
v2 templates in the order of its ``labels.json``. ``ssv2_flip_map.json`` lists the SSv2
classes a horizontal flip turns into each other (for ``data.flip_map``).
Kinetics-600/700 are not shipped yet.
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
