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


def saved_bytes(fn):
    """Bytes autograd keeps for backward while ``fn()`` runs, and what it returned."""
    saved = 0

    def pack(t):
        nonlocal saved
        saved += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        result = fn()
    return saved, result


def assert_checkpointing_keeps_gradients(model, x) -> None:
    """Gradient checkpointing recomputes activations: the gradients must not change, and
    the forward must keep less for backward (it really checkpoints)."""
    model.train()
    plain_bytes, loss = saved_bytes(lambda: model(x).square().sum())
    loss.backward()
    plain = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    model.set_grad_checkpointing(True)
    checkpointed_bytes, loss = saved_bytes(lambda: model(x).square().sum())
    loss.backward()
    assert checkpointed_bytes < plain_bytes / 2, (checkpointed_bytes, plain_bytes)
    for expected, p in zip(plain, model.parameters()):
        torch.testing.assert_close(p.grad, expected)
