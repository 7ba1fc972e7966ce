from pathlib import Path

import pytest
import torch

GOLDEN = Path(__file__).parent / "golden"


def load_golden(name: str) -> dict:
    """A reference file from tests/golden (copied from the official implementations).

    A missing file fails the test: the suite must not silently shrink."""
    path = GOLDEN / f"{name}.pt"
    if not path.is_file():
        pytest.fail(f"golden file {path} is missing (copy it from ../shared/golden)")
    return torch.load(path, weights_only=True)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def assert_checkpointing_keeps_gradients(model, x) -> None:
    """Gradient checkpointing recomputes activations: the gradients must not change."""
    model(x).square().sum().backward()
    plain = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    model.set_grad_checkpointing(True)
    model(x).square().sum().backward()
    for expected, p in zip(plain, model.parameters()):
        torch.testing.assert_close(p.grad, expected)
