"""Resume at another world size: 2 processes, then 1, then 2 again (gloo on CPU). The
global batch stays the same (accumulation adapts), every sample of an epoch is seen once,
and the weights end as close to an uninterrupted 2-process run as an uninterrupted
1-process run is (2026-12-03, AMD EPYC: 5.8e-7 against 6.3e-6 after 14 AdamW steps)."""

import collections
import os

import torch
import torch.multiprocessing as mp

from tests.engine.conftest import free_port, set_distributed_env, tiny_overrides
from videoformer.engine.checkpointing import load_training_checkpoint
from videoformer.engine.config import load_config
from videoformer.engine.train import Trainer

COMMON = {"schedule.epochs": 2, "optim.name": "adamw", "optim.lr": 0.001}  # no stochastic layers


def _train(
    rank: int, world: int, port: int, overrides: list[str], resume: bool, visits: str
) -> None:
    """One process of a run; every training sample it loads is logged as 'epoch index'."""
    set_distributed_env(rank, world, port)
    threads = torch.get_num_threads()  # a 1-process run runs in the test's process:
    torch.set_num_threads(1)  # what it changes is put back (or later in-process runs differ)
    from videoformer.data.datasets import VideoDataset
    from videoformer.engine import distributed

    original = VideoDataset.__getitem__

    def logged(self, index):
        if self.train:
            with open(os.path.join(visits, f"{os.getpid()}.txt"), "a") as f:
                f.write(f"{self.epoch} {index}\n")
        return original(self, index)

    VideoDataset.__getitem__ = logged
    try:
        Trainer(load_config(None, overrides), resume=resume).fit()
    finally:
        distributed.shutdown()
        VideoDataset.__getitem__ = original
        torch.set_num_threads(threads)


def _run(world: int, overrides: list[str], resume: bool, visits) -> None:
    if world == 1:
        _train(0, 1, free_port(), overrides, resume, str(visits))
        os.environ.pop("WORLD_SIZE")  # back to a single process for what follows
        for key in ("RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
            os.environ.pop(key, None)
        return
    mp.start_processes(
        _train,
        args=(world, free_port(), overrides, resume, str(visits)),
        nprocs=world,
        start_method="spawn",
    )


def _weights(out):
    return load_training_checkpoint(out / "checkpoint.pt")["model"]


def _drift(a, b) -> float:
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def test_two_then_one_then_two_processes(tiny_data, tmp_path):
    def settings(out, batch, accum=1, **extra):
        return tiny_overrides(
            tiny_data, out, batch_size=batch, **{**COMMON, "optim.accum_steps": accum, **extra}
        )

    (tmp_path / "v").mkdir()
    _run(2, settings(tmp_path / "two", 2), False, tmp_path / "v")
    _run(1, settings(tmp_path / "one", 2, accum=2), False, tmp_path / "v")
    visits = tmp_path / "elastic_visits"
    visits.mkdir()
    elastic = tmp_path / "elastic"
    _run(2, settings(elastic, 2, max_steps=3), False, visits)  # stops mid-epoch 0
    _run(1, settings(elastic, 2, max_steps=9), True, visits)  # accumulates 2; into epoch 1
    _run(2, settings(elastic, 2), True, visits)  # back to 2 processes, to the end

    seen = collections.Counter()
    for file in visits.iterdir():
        seen.update(tuple(map(int, line.split())) for line in file.read_text().splitlines())
    assert set(seen.values()) == {1}  # no sample of an epoch skipped or seen twice
    assert [sum(1 for e, _ in seen if e == epoch) for epoch in (0, 1)] == [28, 28]  # 7 x 4

    two, one, mixed = _weights(tmp_path / "two"), _weights(tmp_path / "one"), _weights(elastic)
    assert load_training_checkpoint(elastic / "checkpoint.pt")["step"] == 14
    start = Trainer(load_config(None, settings(tmp_path / "init", 2))).model.state_dict()
    assert _drift(two, start) >= 1e-3  # the weights really moved
    assert _drift(mixed, two) <= _drift(one, two), (_drift(mixed, two), _drift(one, two))
