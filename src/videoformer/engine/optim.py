"""Optimizers, parameter groups and the per-step learning-rate schedule."""

from __future__ import annotations

import math

import torch
from torch import nn

from .config import OptimConfig, ScheduleConfig


def param_groups(model: nn.Module, cfg: OptimConfig) -> list[dict]:
    """Groups by (weight decay on/off, lr multiplier), from what the model declares
    (``videoformer.models.base``): no decay on norms, biases (single-dimension tensors)
    and ``model.no_weight_decay()``; ``backbone_lr_mult`` for all but the classifier;
    ``embed_lr_mult`` for ``model.learned_embeddings()``; ``layer_decay ** (L + 1 -
    model.layer_id(name))`` with ``L = model.num_layers``."""
    head = model.classifier_name + "."
    no_decay, embeddings = model.no_weight_decay(), model.learned_embeddings()
    groups: dict[tuple[bool, float], dict] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        decay = p.ndim > 1 and name not in no_decay
        mult = 1.0 if name.startswith(head) else cfg.backbone_lr_mult
        if name in embeddings:
            mult *= cfg.embed_lr_mult
        if cfg.layer_decay != 1.0:
            mult *= cfg.layer_decay ** (model.num_layers + 1 - model.layer_id(name))
        group = groups.setdefault(
            (decay, mult),
            {
                "params": [],
                "weight_decay": cfg.weight_decay if decay else 0.0,
                "lr_mult": mult,
                "names": [],
            },
        )
        group["params"].append(p)
        group["names"].append(name)
    return list(groups.values())


class Lamb(torch.optim.Optimizer):
    """LAMB (You et al. 2020, Algorithm 2): Adam moments with bias correction, decoupled
    weight decay added to the update, the update scaled per tensor by the trust ratio
    ||w|| / ||update|| (1 where either norm is 0). Tensor ops only: no host syncs."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0) -> None:
        super().__init__(
            params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay}
        )

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            b1, b2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = torch.zeros((), dtype=torch.float64, device=p.device)
                    state["m"], state["v"] = torch.zeros_like(p), torch.zeros_like(p)
                state["step"] += 1
                state["m"].mul_(b1).add_(p.grad, alpha=1 - b1)
                state["v"].mul_(b2).addcmul_(p.grad, p.grad, value=1 - b2)
                m_hat = state["m"] / (1 - b1 ** state["step"]).to(p.dtype)  # bias correction
                v_hat = state["v"] / (1 - b2 ** state["step"]).to(p.dtype)
                update = m_hat / (v_hat.sqrt() + group["eps"])
                if group["weight_decay"]:
                    update.add_(p, alpha=group["weight_decay"])
                w_norm, u_norm = p.norm(), update.norm()
                trust = torch.where((w_norm > 0) & (u_norm > 0), w_norm / u_norm, 1.0)
                p.sub_(update * (trust * group["lr"]))
        return loss


def build_optimizer(model: nn.Module, cfg: OptimConfig) -> torch.optim.Optimizer:
    groups = param_groups(model, cfg)
    for g in groups:
        g["lr"] = cfg.lr * g["lr_mult"]
    if cfg.name == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum)
    if cfg.name == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr)
    return Lamb(groups, lr=cfg.lr)


def lr_factor(step: int, steps_per_epoch: int, cfg: ScheduleConfig) -> float:
    """Multiplier of the base lr at optimizer step ``step``: linear warm-up, then cosine
    (down to ``min_lr_ratio``) or step decay at ``milestones`` (epochs)."""
    epoch = step / steps_per_epoch
    if cfg.warmup_epochs and epoch < cfg.warmup_epochs:
        return (step + 1) / (cfg.warmup_epochs * steps_per_epoch)
    if cfg.kind == "step":
        return cfg.gamma ** sum(epoch >= m for m in cfg.milestones)
    total = cfg.epochs - cfg.warmup_epochs
    progress = min(max(epoch - cfg.warmup_epochs, 0) / total, 1.0) if total > 0 else 1.0
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def build_scheduler(opt: torch.optim.Optimizer, steps_per_epoch: int, cfg: ScheduleConfig):
    return torch.optim.lr_scheduler.LambdaLR(
        opt, lambda step: lr_factor(step, steps_per_epoch, cfg)
    )
