"""How far 2 CPU processes (gloo, DDP and FSDP) drift from 1 process on the global batch.

    python benchmarks/ddp_equivalence.py [sgd 0.1 | adamw 0.001]

A tiny TimeSformer on a tiny synthetic set, batch 4 = 2 x 2, after 2, 7 (one epoch) and
14 steps; prints the largest absolute weight difference (docs/engine.md, Distributed)."""

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.engine.conftest import tiny_overrides  # noqa: E402
from tests.engine.test_distributed import _run  # noqa: E402
from videoformer.data.synthetic import make_motion_dataset  # noqa: E402
from videoformer.engine.checkpointing import load_training_checkpoint  # noqa: E402
from videoformer.engine.config import load_config  # noqa: E402
from videoformer.engine.train import Trainer  # noqa: E402


def weights(out: Path) -> dict:
    return load_training_checkpoint(out / "checkpoint.pt")["model"]


def main(optimizer: str = "sgd", lr: float = 0.1) -> None:
    tmp = Path(tempfile.mkdtemp())
    data = make_motion_dataset(tmp / "data", num_per_class=4, size=32, frames=8, seed=1)
    for steps in (2, 7, 14):
        common = {
            "max_steps": steps,
            "schedule.epochs": 2,
            "optim.name": optimizer,
            "optim.lr": lr,
            "data.num_workers": 0,
        }
        Trainer(
            load_config(None, tiny_overrides(data, tmp / f"one{steps}", batch_size=4, **common))
        ).fit()
        one = weights(tmp / f"one{steps}")
        for strategy in ("ddp", "fsdp"):
            out = tmp / f"{strategy}{steps}"
            _run(2, tiny_overrides(data, out, batch_size=2, distributed=strategy, **common))
            two = weights(out)
            diff = max((one[k] - two[k]).abs().max().item() for k in one)
            print(
                f"{optimizer} lr {lr}, {steps} steps, {strategy}: max |diff| {diff:.2e}", flush=True
            )


if __name__ == "__main__":
    main(
        sys.argv[1] if len(sys.argv) > 1 else "sgd",
        float(sys.argv[2]) if len(sys.argv) > 2 else 0.1,
    )
