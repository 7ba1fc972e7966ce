"""PyAV, for the modules that read and write video. The package imports without it (a GPU
node that trains or benchmarks on tensors has no FFmpeg): then ``av`` stands in, and the
first use of it raises one ImportError saying what to install."""

from __future__ import annotations

from typing import Any

try:
    import av
except ImportError as error:  # pragma: no cover - exercised by a test that hides av

    class _Missing:
        def __init__(self, reason: ImportError) -> None:
            self._reason = reason

        def __getattr__(self, name: str) -> Any:
            raise ImportError(
                f"reading or writing video needs PyAV, which does not import here "
                f"({self._reason}): pip install av"
            )

    av = _Missing(error)

__all__ = ["av"]
