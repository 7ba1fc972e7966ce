"""PyTorch's own distributed engine: torchrun environment, process group, samplers.

``torchrun --nproc_per_node N -m videoformer train ...`` sets RANK, WORLD_SIZE,
LOCAL_RANK, MASTER_ADDR and MASTER_PORT; ``init()`` joins the group with gloo on CPU or
NCCL on GPU. Multi-node runs use torchrun's usual flags (--nnodes, --rdzv-endpoint).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import Sampler

from ..seeding import derive_seed


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init() -> DistInfo:
    """Join the process group when launched by torchrun (WORLD_SIZE > 1), else single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available()
    device = torch.device("cuda", local) if cuda else torch.device("cpu")
    if world == 1:
        return DistInfo(device=device)
    if cuda:
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if cuda else "gloo")
    return DistInfo(dist.get_rank(), dist.get_world_size(), local, device)


def shutdown() -> None:
    """Leave the process group once every rank got here (rank 0 may still be saving)."""
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def all_reduce_sum(values: list[float], info: DistInfo) -> list[float]:
    if not info.enabled:
        return values
    t = torch.tensor(
        values, dtype=torch.float64, device=info.device if info.device.type == "cuda" else "cpu"
    )
    dist.all_reduce(t)
    return t.tolist()


def all_gather_objects(obj: Any, info: DistInfo) -> list[Any]:
    if not info.enabled:
        return [obj]
    out: list[Any] = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


class EpochSampler(Sampler[int]):
    """Deterministic order per (seed, epoch), split across ranks, resumable mid-epoch.

    The dataset is shuffled with a generator seeded by (seed, epoch), padded by repeating
    its start to a multiple of the world size, and rank r takes every world_size-th index
    from r. ``skip`` leaves out the first indices of this rank (already trained on).
    """

    def __init__(
        self, length: int, shuffle: bool, seed: int, rank: int = 0, world_size: int = 1
    ) -> None:
        self.length, self.shuffle, self.seed = length, shuffle, seed
        self.rank, self.world_size = rank, world_size
        self.epoch, self.skip = 0, 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        self.epoch, self.skip = epoch, skip

    def __len__(self) -> int:
        return -(-self.length // self.world_size) - self.skip

    def __iter__(self):
        if self.shuffle:
            g = torch.Generator().manual_seed(derive_seed(self.seed, "order", self.epoch))
            order = torch.randperm(self.length, generator=g).tolist()
        else:
            order = list(range(self.length))
        total = -(-self.length // self.world_size) * self.world_size
        order += order[: total - len(order)]
        return iter(order[self.rank :: self.world_size][self.skip :])
