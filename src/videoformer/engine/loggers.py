"""Where a run's metric rows go besides ``metrics.jsonl``: TensorBoard and Weights & Biases,
each optional (``logging.tensorboard``, ``logging.wandb``) and used only when installed."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def _numbers(row: dict[str, Any]) -> dict[str, float]:
    return {
        f"{row['kind']}/{k}": v
        for k, v in row.items()
        if isinstance(v, (int, float)) and k not in ("step", "epoch")
    }


class MetricSinks:
    """Opened at the first row (rank 0 only); ``close`` flushes them (also after an error)."""

    def __init__(
        self, tensorboard: bool, wandb_project: str, out: Path, config: dict[str, Any]
    ) -> None:
        self.tensorboard, self.wandb_project, self.out, self.config = (
            tensorboard,
            wandb_project,
            out,
            config,
        )
        self._tb: Any = None
        self._wandb: Any = None
        self._opened = False

    def _open(self) -> None:
        self._opened = True
        if self.tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(str(self.out / "tensorboard"))
            except ImportError:
                log.info("tensorboard is not installed: no TensorBoard events")
        if self.wandb_project:
            try:
                import wandb
            except ImportError:
                log.warning(
                    "logging.wandb = %r, but wandb is not installed (pip install wandb)",
                    self.wandb_project,
                )
                return
            self._wandb = wandb.init(
                project=self.wandb_project,
                dir=str(self.out),
                config=self.config,
                name=self.out.name,
                resume="allow",
            )

    def log(self, row: dict[str, Any]) -> None:
        if not self._opened:
            self._open()
        values = _numbers(row)
        if self._tb is not None:
            for k, v in values.items():
                self._tb.add_scalar(k, v, row["step"])
        if self._wandb is not None:
            self._wandb.log(values, step=row["step"])

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
        if self._wandb is not None:
            self._wandb.finish()
        self._tb = self._wandb = None
        self._opened = False
