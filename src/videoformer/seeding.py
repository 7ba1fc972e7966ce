"""``derive_seed``: the one way the library turns (seed, epoch, step, index...) into the
seed of a random stream, so that data order, augmentation and mixing depend only on
those numbers (exact resume, same results on every rank and in every process)."""

from __future__ import annotations

import hashlib


def derive_seed(*parts: int | str) -> int:
    """A 63-bit seed from ``parts``: the same in every process and on every platform
    (unlike ``hash`` of a string), and unrelated for different parts: ``(1, 2)`` and
    ``(2, 1)`` give different seeds, as do ``(0, 1)`` and ``(0, 2)``. Strings name the
    stream (``"order"``, ``"mix"``) so that two uses of the same numbers do not collide.
    """
    for p in parts:
        if not isinstance(p, (int, str)):
            raise TypeError(f"derive_seed takes ints and strings, got {type(p).__name__} {p!r}")
    text = "\x1f".join(f"{type(p).__name__}:{p}" for p in parts)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little") >> 1
