"""``shape_cache``: remember tensors that depend only on shapes (masks, indices, Fourier
features), but not while torch.compile or torch.export traces a model: the tensors made
then are fake, and a cache would hand them to the eager calls that follow. A cached
tensor is always made outside inference mode and without autograd, so that it carries no
grad mode of the call that first made it (an inference tensor cannot be saved for
backward by a training step later in the same process)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

import torch

F = TypeVar("F", bound=Callable)


def shape_cache(maxsize: int = 64) -> Callable[[F], F]:
    def decorate(fn: F) -> F:
        def plain(*args, **kwargs):
            with torch.inference_mode(False), torch.no_grad():
                return fn(*args, **kwargs)

        cached = functools.lru_cache(maxsize=maxsize)(plain)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if torch.compiler.is_compiling():
                return fn(*args, **kwargs)
            return cached(*args, **kwargs)

        wrapper.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate
