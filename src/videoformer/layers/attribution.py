"""Where a model looks: attention rollout (Abnar & Zuidema, 2020,
https://arxiv.org/abs/2005.00928) and Grad-CAM (Selvaraju et al., 2017,
https://arxiv.org/abs/1610.02391), the model-independent parts.

Rollout follows information from the input tokens to the output through the attention
layers: each layer's head-averaged attention A, with the residual connection, becomes
0.5 A + 0.5 I, and the layers multiply. Its gradient-weighted form (Chefer et al., 2021)
replaces A by the positive part of (∂ target / ∂A) ⊙ A and adds, R += Ā R: class-specific,
and sharper on the motion dataset (docs/explain.md). A model whose attention runs
within groups of tokens describes them as an ``AttentionGraph`` (which token each
position of each group is, layer by layer); ``grouped_rollout`` turns what
``record_attention`` gathered into token-by-token matrices (``scatter_groups``) and
rolls them out.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .attention import record_attention

# The relevance methods a model may offer (its ``relevance_methods``; the first is its
# default); the CLI's choices read this table.
METHODS = {
    "gradient_rollout": "attention rollout weighted by its gradient for the target class "
    "(Chefer et al.)",
    "rollout": "plain attention rollout, class-agnostic",
    "grad_cam": "Grad-CAM of the last stage",
}


def rollout_step(relevance: Tensor, attention: Tensor) -> Tensor:
    """One attention layer: (0.5 A + 0.5 I) @ relevance. attention: (N, N) head-averaged
    and row-stochastic; relevance: (N, M), each row how much of every input a token holds."""
    return 0.5 * (attention @ relevance) + 0.5 * relevance


def scatter_groups(
    probs: Tensor, index: Tensor, size: int, shared: str = "mean", unseen: float = 1.0
) -> Tensor:
    """Attention computed within groups of tokens, as one (size, size) matrix.

    probs: (G, L, L) head-averaged attention inside each group; index: (G, L) the global
    token of each position. A token in several groups (a cls token shared by every group)
    gets the ``shared`` ("mean" or "sum") of its rows; tokens in no group get ``unseen``
    on the diagonal (1: they keep themselves in a rollout step; 0: they add nothing)."""
    G, L, _ = probs.shape
    matrix = torch.zeros(size, size, dtype=probs.dtype, device=probs.device)
    rows = index[:, :, None].expand(G, L, L).reshape(-1)
    cols = index[:, None, :].expand(G, L, L).reshape(-1)
    matrix.index_put_((rows, cols), probs.reshape(-1), accumulate=True)
    count = torch.zeros(size, dtype=probs.dtype, device=probs.device)
    count.index_put_(
        (index.reshape(-1),), torch.ones(index.numel(), dtype=probs.dtype), accumulate=True
    )
    seen = count > 0
    if shared == "mean":
        matrix[seen] /= count[seen, None]
    matrix[~seen, ~seen] = unseen
    return matrix


def gradient_weighted(probs: Tensor) -> Tensor:
    """Chefer et al.'s attention relevance (https://arxiv.org/abs/2103.15679): the heads'
    mean of (∂ target / ∂A) ⊙ A, negatives removed. probs: (*B, nH, L, L) with ``.grad``."""
    return (probs.grad * probs).clamp(min=0).mean(-3).detach()


def grad_cam(activation: Tensor, gradient: Tensor) -> Tensor:
    """Grad-CAM of channels-last features: activation and gradient (*S, D) -> (*S), the
    ReLU of the channels weighted by their mean gradient."""
    weights = gradient.flatten(0, -2).mean(0)  # (D,)
    return torch.relu((activation * weights).sum(-1))


def latent_rollout(steps: list[tuple[str, Tensor]], num_latents: int, num_bytes: int) -> Tensor:
    """Rollout through a Perceiver: ``steps`` in call order, ``("cross", C)`` with C (N, M)
    the latents reading the byte array, or ``("self", A)`` with A (N, N). Returns (N, N+M):
    how much of each latent and each byte every latent holds at the end. Bytes never
    change, so only the latents' rows are kept."""
    N, M = num_latents, num_bytes
    relevance = torch.cat([torch.eye(N), torch.zeros(N, M)], dim=1)
    for kind, probs in steps:
        if kind == "self":
            relevance = rollout_step(relevance, probs)
        else:  # z + cross(z, bytes): half what the latent held, half the bytes it read
            relevance = 0.5 * relevance + 0.5 * torch.cat([torch.zeros(N, N), probs], dim=1)
    return relevance


@dataclass
class AttentionGraph:
    """The attention layers of a model whose attention runs within groups of tokens, as
    one token set: ``size`` tokens; ``layers`` in call order, each an attention module
    with the global id (G, L) of every position of its G groups; ``outputs`` the ids of
    the tokens the head reads (their rows are summed); ``grid`` (T', h, w) the ids of the
    input patch tokens."""

    size: int
    layers: list[tuple[nn.Module, Tensor]]
    outputs: Tensor
    grid: Tensor


def grouped_rollout(
    model: nn.Module, x: Tensor, graph: AttentionGraph, target: int | None, gradient: bool
) -> tuple[Tensor, Tensor]:
    """(logits (K,), map (T', h, w) summing to 1) of one input x through ``graph``: plain
    rollout, or with ``gradient`` Chefer's R += Ā R with the attention weighted by its
    gradient for ``target`` (default: the predicted class). A token shared by several
    groups (a cls token) gets the mean of its rows, or their sum for gradients (its
    gradient is already split over the groups)."""
    with torch.set_grad_enabled(gradient), record_attention(keep_graph=gradient) as records:
        logits = model(x)[0]
        if gradient:
            target = int(logits.argmax()) if target is None else target
            logits[target].backward(inputs=[p for _, p in records])
    probs_of = {id(layer): p for layer, p in records}  # (G, nH, L, L) each
    relevance = torch.eye(graph.size)
    for layer, index in graph.layers:
        probs = probs_of[id(layer)]
        if gradient:
            weighted = scatter_groups(gradient_weighted(probs), index, graph.size, "sum", 0.0)
            relevance = relevance + weighted @ relevance
        else:
            attention = scatter_groups(probs.detach().mean(-3), index, graph.size)
            relevance = rollout_step(relevance, attention)
    return logits.detach(), normalised(relevance[graph.outputs].sum(0)[graph.grid])


@dataclass
class Relevance:
    """Where a model looked for one input."""

    logits: Tensor  # (K,)
    map: Tensor  # (T', h, w) on the model's token grid (T' = 1 for images), sums to 1
    method: str  # "attention rollout" or "Grad-CAM of <layer>"


def normalised(map_: Tensor) -> Tensor:
    """Non-negative, summing to 1 (all zeros stay zeros)."""
    map_ = map_.clamp(min=0)
    total = map_.sum()
    return map_ / total if total > 0 else map_
