"""``shape_cache``: remember tensors that depend only on shapes (masks, indices, Fourier
features). A cached tensor is always made outside inference mode and without autograd, so
that it carries no grad mode of the call that first made it (an inference tensor cannot be
saved for backward by a training step later in the same process).

Under torch.compile the function runs for real when Dynamo traces the call (through the
same cache) and its result enters the graph as a constant: the compiled model neither
recomputes it per call nor traces its Python (window grouping, mask building); results
must be tensors, plain values or tuples of them (a NamedTuple, not a dataclass). Where
Dynamo has made a size dynamic (a model called at another clip length or resolution) the
arguments are symbolic and the call runs outside the graph (a graph break; values stay
the same; ``compile_model(model, dynamic=False)`` keeps a static graph per size). Under
torch.export the function is traced with the rest, never cached: the tensors made then are
fake, and a cache would hand them to the eager calls that follow."""

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

        @torch.compiler.assume_constant_result
        def constant(*args, **kwargs):  # a plain function: Dynamo inlines lru_cache's
            return cached(*args, **kwargs)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if torch.compiler.is_exporting():
                return fn(*args, **kwargs)
            if torch.compiler.is_compiling():
                return constant(*args, **kwargs)
            return cached(*args, **kwargs)

        wrapper.cache_clear = cached.cache_clear  # type: ignore[attr-defined]
        wrapper.cache_info = cached.cache_info  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate
