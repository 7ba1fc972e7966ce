"""Progress of long loops: a tqdm bar on a terminal; in a pipe, a file or a job log, one
line every ``interval`` seconds and one at the end, instead of carriage-return updates."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from tqdm import tqdm


class Progress:
    """Iterate ``iterable`` showing ``desc``, the count of ``total`` and the latest
    ``set_postfix`` values (loss, lr, clips/s), with the elapsed time and an ETA."""

    def __init__(
        self,
        iterable: Iterable,
        total: int,
        desc: str,
        enabled: bool = True,
        interval: float = 30.0,
        stream: TextIO | None = None,
    ) -> None:
        self.stream = stream or sys.stderr
        self.terminal = self.stream.isatty()
        self.enabled, self.interval, self.desc, self.total = enabled, interval, desc, total
        self.iterable = tqdm(
            iterable,
            total=total,
            desc=desc,
            unit="batch",
            mininterval=2.0,
            disable=not (enabled and self.terminal),
            file=self.stream,
        )
        self.count, self.postfix = 0, {}
        self.start = self.last = time.perf_counter()

    def __iter__(self) -> Iterator[Any]:
        for item in self.iterable:
            yield item
            self.count += 1
            if self._lines and time.perf_counter() - self.last >= self.interval:
                self._write()

    @property
    def _lines(self) -> bool:
        return self.enabled and not self.terminal

    def set_postfix(self, **values: str) -> None:
        self.postfix = values
        if self.enabled and self.terminal:
            self.iterable.set_postfix(**values)

    def _write(self) -> None:
        now = time.perf_counter()
        elapsed = now - self.start
        eta = elapsed / self.count * (self.total - self.count) if self.count else 0.0
        values = "".join(f", {k}={v}" for k, v in self.postfix.items())
        self.stream.write(
            f"{self.desc}: {self.count}/{self.total}{values}, {elapsed:.0f} s, ETA {eta:.0f} s\n"
        )
        self.stream.flush()
        self.last = now

    def write(self, line: str, file: TextIO | None = None) -> None:
        """Print a line without breaking the bar (results on stdout, the bar on stderr)."""
        if self.enabled and self.terminal:
            self.iterable.write(line, file=file or sys.stdout)
        else:
            print(line, file=file or sys.stdout)

    def close(self) -> None:
        self.iterable.close()
        if self._lines and self.count:
            self._write()
