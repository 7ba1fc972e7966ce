"""The optimizers: LAMB against the paper's update written out in NumPy, without host syncs."""

import numpy as np
import pytest
import torch

from videoformer.engine.optim import Lamb


def lamb_reference(w, grads, lr, b1, b2, eps, wd):
    """You et al. 2020, Algorithm 2 (LAMB), for one tensor, in float64: Adam moments with
    bias correction, r = m_hat / (sqrt(v_hat) + eps) + wd * w, w -= lr * ||w|| / ||r|| * r."""
    m, v = np.zeros_like(w), np.zeros_like(w)
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        r = (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps) + wd * w
        w_norm, r_norm = np.linalg.norm(w), np.linalg.norm(r)
        trust = w_norm / r_norm if w_norm > 0 and r_norm > 0 else 1.0
        w = w - lr * trust * r
    return w


@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_lamb_follows_the_paper(wd):
    g = torch.Generator().manual_seed(0)
    w0 = torch.randn(4, 5, generator=g, dtype=torch.float64)
    zero = torch.zeros(3, dtype=torch.float64)  # ||w|| = 0: trust ratio 1
    grads = [torch.randn(4, 5, generator=g, dtype=torch.float64) for _ in range(6)]
    zero_grads = [torch.randn(3, generator=g, dtype=torch.float64) for _ in range(6)]
    p, q = torch.nn.Parameter(w0.clone()), torch.nn.Parameter(zero.clone())
    opt = Lamb([p, q], lr=0.01, betas=(0.9, 0.999), eps=1e-6, weight_decay=wd)
    for grad, zgrad in zip(grads, zero_grads):
        p.grad, q.grad = grad.clone(), zgrad.clone()
        opt.step()
    for param, start, gs in ((p, w0, grads), (q, zero, zero_grads)):
        expected = lamb_reference(
            start.numpy(), [x.numpy() for x in gs], 0.01, 0.9, 0.999, 1e-6, wd
        )
        np.testing.assert_allclose(param.detach().numpy(), expected, rtol=1e-10, atol=1e-12)


def test_lamb_step_makes_no_host_sync(monkeypatch):
    """No .item() and no tensor truth value in a step (each would wait for the device)."""
    p = torch.nn.Parameter(torch.randn(8))
    opt = Lamb([p], lr=0.01, weight_decay=0.1)

    def refuse(*args):
        raise AssertionError("host sync in Lamb.step")

    for _ in range(2):
        p.grad = torch.randn(8)
        with monkeypatch.context() as m:
            m.setattr(torch.Tensor, "item", refuse)
            m.setattr(torch.Tensor, "__bool__", refuse)
            opt.step()
