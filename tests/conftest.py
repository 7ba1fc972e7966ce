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
