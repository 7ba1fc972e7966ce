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
    """One order of the data per (seed, epoch), split across ranks, resumable anywhere.

    The dataset is shuffled with a generator seeded by (seed, epoch). In training
    (``global_batch`` set) the order is cut to whole global batches (repeated to one when
    the data is smaller) and rank r of W takes ``order[cursor + r :: W]``: ``cursor`` counts
    the samples of the order every rank together has consumed, so a run stopped at a step
    resumes at any world size with each sample of the epoch seen once (the same samples
    make each global batch whatever W is). For evaluation the order is padded to a
    multiple of W by repeating its start and rank r takes every W-th index from r.
    """

    def __init__(
        self,
        length: int,
        shuffle: bool,
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        global_batch: int | None = None,
    ) -> None:
        self.length, self.shuffle, self.seed = length, shuffle, seed
        self.rank, self.world_size, self.global_batch = rank, world_size, global_batch
        self.epoch, self.cursor = 0, 0

    def set_epoch(self, epoch: int, cursor: int = 0) -> None:
        if cursor % self.world_size:
            raise ValueError(f"cursor {cursor} is not a multiple of the world size")
        self.epoch, self.cursor = epoch, cursor

    @property
    def total(self) -> int:
        """Samples in the epoch's order (all ranks)."""
        if self.global_batch:
            return max(1, self.length // self.global_batch) * self.global_batch
        return -(-self.length // self.world_size) * self.world_size

    def __len__(self) -> int:
        return (self.total - self.cursor) // self.world_size

    def order(self) -> list[int]:
        """The epoch's order over every rank."""
        if self.shuffle:
            g = torch.Generator().manual_seed(derive_seed(self.seed, "order", self.epoch))
            order = torch.randperm(self.length, generator=g).tolist()
        else:
            order = list(range(self.length))
        while len(order) < self.total:  # pad (evaluation) or fill one global batch
            order += order[: self.total - len(order)]
        return order[: self.total]

    def __iter__(self):
        return iter(self.order()[self.cursor + self.rank :: self.world_size])
