"""The training loop: mixed precision, accumulation, clipping, EMA, atomic checkpoints,
exact resume, non-finite loss handling, DDP/FSDP, progress and metrics logs.

Resume is exact: data order depends only on (seed, epoch), augmentation on (seed,
epoch, sample), mixing on (seed, step), and the checkpoint restores every RNG, so a run
killed mid-epoch and resumed ends with the weights of a run never stopped (bitwise on
the CPU, with or without loader workers: tests/engine/test_resume.py).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import signal
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
import yaml
from torch import nn
from torch.utils.data import DataLoader

from ..data.memory import release_large_blocks
from ..data.transforms import MixupCutmix, one_hot
from ..models.base import compile_model
from ..progress import Progress
from ..seeding import derive_seed
from ..specs import ModelSource
from ..weights.factory import create_model
from ..weights.loading import CheckpointError, load_checkpoint
from ..weights.model_file import model_metadata, write_model_file
from . import distributed
from .builders import build_datasets, check_inputs, kind_of, prepare_synthetic, recipe_data_spec
from .checkpointing import (
    CHECKPOINT,
    atomic_save,
    load_training_checkpoint,
    previous_path,
    rng_state,
    set_rng_state,
)
from .config import ConfigChanged, TrainConfig, check_resumable, save_config, to_dict
from .distributed import DistInfo, EpochSampler
from .evaluate import evaluate, model_inputs, write_report
from .loggers import MetricSinks
from .optim import build_optimizer, build_scheduler
from .run_folder import RunLock, check_run_folder, clear_previous_run, remove_orphans

log = logging.getLogger(__name__)
# What a run reports as it goes (its start, each evaluation): rank 0 only; the CLI shows
# these lines without -v.
run_log = logging.getLogger("videoformer.run")


class NonFiniteLossError(RuntimeError):
    pass


class Preempted(Exception):
    """SIGTERM: the run stopped after ``step`` and wrote its checkpoint."""

    def __init__(self, step: int) -> None:
        super().__init__(f"preempted after step {step}")
        self.step = step


AUTOCAST = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class TrainState:
    epoch: int = 0
    step: int = 0  # optimizer steps done
    batch_in_epoch: int = 0  # batches of the current epoch done
    failed_files: int = 0
    best_top1: float = -1.0
    history: list[dict] = field(default_factory=list)


@dataclass
class StepOutput:
    """One optimizer step: its loss (averaged over the processes) and throughput."""

    loss: float
    clips_per_s: float


def build_model(
    cfg: TrainConfig, num_classes: int | None, pretrained: ModelSource | None = None
) -> nn.Module:
    overrides = dict(cfg.model_overrides)
    if num_classes is not None:
        overrides.setdefault("num_classes", num_classes)
    model = create_model(cfg.model, pretrained=pretrained, **overrides)
    if cfg.grad_checkpointing:
        model.set_grad_checkpointing(True)
    return model


def _wrap(model: nn.Module, cfg: TrainConfig, info: DistInfo) -> nn.Module:
    """DDP, or FSDP2 (``fully_shard``, which also runs on CPU with gloo), when distributed."""
    if not info.enabled:
        return model
    if cfg.distributed == "fsdp":
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.fsdp import fully_shard

        mesh = init_device_mesh(info.device.type, (info.world_size,))
        for block in [m for m in model.modules() if isinstance(m, model.block_types)]:
            fully_shard(block, mesh=mesh)  # the blocks one by one, then the root takes the rest
        fully_shard(model, mesh=mesh)
        return model
    return nn.parallel.DistributedDataParallel(
        model, device_ids=[info.device] if info.device.type == "cuda" else None
    )


class Trainer:
    """One training run in ``cfg.out``: ``Trainer(cfg).fit()``; ``resume=True`` continues
    from ``cfg.out/checkpoint.pt``. Constructing it checks every input and builds the
    model, data and optimizer in memory; the first file is written by ``fit``
    (``open_run``). A data set that writes itself (the synthetic set) must be there:
    ``train()`` writes it after the checks."""

    def __init__(
        self,
        cfg: TrainConfig,
        resume: bool = False,
        info: DistInfo | None = None,
        overwrite: bool = False,
    ) -> None:
        self.cfg = cfg
        self.info = info or distributed.init()
        self.out = Path(cfg.out)
        if self.info.is_main:  # rank 0 owns the folder
            check_run_folder(self.out, resume, overwrite)
        pretrained = check_inputs(cfg, self.info.device)  # before anything is written
        if resume and (self.out / "config.yaml").is_file():  # before config.yaml is rewritten
            saved = yaml.safe_load((self.out / "config.yaml").read_text())
            check_resumable(saved, to_dict(cfg), self.out / "config.yaml")
        self._sigterm = False
        torch.manual_seed(cfg.seed)
        self.train_set, self.val_set, self.labels = build_datasets(cfg)
        self.data_fingerprint = data_fingerprint(cfg.data.root, self.train_set, self.val_set)
        num_classes = len(self.labels) if self.labels else None
        self.model = build_model(cfg, num_classes, pretrained).to(self.info.device)
        self.num_classes = self.model.config.num_classes
        # the global batch is what a run keeps whatever its world size: gradient
        # accumulation adapts when a resume brings another number of processes
        self.accum = cfg.optim.accum_steps
        self.global_batch = cfg.batch_size * self.info.world_size * self.accum
        self.sampler = EpochSampler(
            len(self.train_set),
            True,
            cfg.seed,
            self.info.rank,
            self.info.world_size,
            global_batch=self.global_batch,
        )
        self.steps_per_epoch = self.sampler.total // self.global_batch
        self.wrapped = _wrap(self.model, cfg, self.info)
        if cfg.compile:  # checkpoints keep saving self.model, never the compiled wrapper
            self.wrapped = compile_model(self.wrapped)
        self.optimizer = build_optimizer(self.model, cfg.optim)
        self.scheduler = build_scheduler(self.optimizer, self.steps_per_epoch, cfg.schedule)
        self.scaler = torch.amp.GradScaler(
            "cuda", enabled=cfg.precision == "fp16" and self.info.device.type == "cuda"
        )
        self.ema = None
        if cfg.ema_decay:
            from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

            self.ema = AveragedModel(self.model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay))
        self.mixer = None
        if cfg.mixup_alpha or cfg.cutmix_alpha:
            self.mixer = MixupCutmix(
                self.num_classes,
                cfg.mixup_alpha,
                cfg.cutmix_alpha,
                label_smoothing=cfg.label_smoothing,
            )
        self.state = TrainState()
        self.sinks = MetricSinks(cfg.logging.tensorboard, cfg.logging.wandb, self.out, to_dict(cfg))
        self._opened, self._overwrite, self.lock = False, overwrite, RunLock(self.out)
        self._resumed = False
        if resume:
            self._resume()
            self._resumed = True

    def open_run(self) -> None:
        """The run's first writes (rank 0): the folder and its lock, held until ``fit``
        ends; with ``overwrite``, the earlier run's files cleared; the temporary files of
        a run that was killed removed (the lock says none is running); ``config.yaml``; on
        resume, ``metrics.jsonl`` as the checkpoint knew it (the rows of steps redone
        after a kill are not kept twice)."""
        if self._opened:
            return
        self._opened = True
        if not self.info.is_main:
            return
        self.lock.acquire()
        if self._overwrite:
            clear_previous_run(self.out)
        remove_orphans(self.out)
        save_config(self.cfg, self.out / "config.yaml")
        if self._resumed:
            rows = "".join(json.dumps(row) + "\n" for row in self.state.history)
            tmp = self.out / ".metrics.jsonl.tmp"
            tmp.write_text(rows)
            os.replace(tmp, self.out / "metrics.jsonl")

    # --- checkpoints -------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        return model_metadata(self.cfg.model, self.model, self.labels, recipe_data_spec(self.cfg))

    @property
    def _sharded(self) -> bool:
        return self.cfg.distributed == "fsdp" and self.info.enabled

    def _states(self) -> tuple[dict, dict]:
        """Full (unsharded) model and optimizer state dicts, on the CPU of rank 0."""
        if self._sharded:
            from torch.distributed.checkpoint.state_dict import (
                StateDictOptions,
                get_model_state_dict,
                get_optimizer_state_dict,
            )

            options = StateDictOptions(full_state_dict=True, cpu_offload=True)
            return (
                get_model_state_dict(self.model, options=options),
                get_optimizer_state_dict(self.model, self.optimizer, options=options),
            )
        return self.model.state_dict(), self.optimizer.state_dict()

    def save(self) -> None:
        model_state, optimizer_state = self._states()
        if not self.info.is_main:
            return
        self.open_run()
        s = self.state
        atomic_save(
            {
                "model": model_state,
                "optimizer": optimizer_state,
                "scheduler": self.scheduler.state_dict(),
                "scaler": self.scaler.state_dict(),
                "ema": self.ema.state_dict() if self.ema is not None else None,
                "rng": rng_state(),
                "epoch": s.epoch,
                "step": s.step,
                "batch_in_epoch": s.batch_in_epoch,
                "cursor": s.batch_in_epoch * self.samples_per_batch,  # samples of the epoch
                "world_size": self.info.world_size,
                "global_batch": self.global_batch,
                "failed_files": s.failed_files,
                "best_top1": s.best_top1,
                "history": s.history,
                "config": to_dict(self.cfg),
                "data_fingerprint": self.data_fingerprint,
                "meta": self.metadata(),
            },
            self.out / CHECKPOINT,
            keep_previous=True,
        )

    def _resume(self) -> None:
        """Continue from the newest checkpoint that loads; one that does not (truncated,
        another model, an older format) is reported by name and the one before is used."""
        latest = self.out / CHECKPOINT
        candidates = [p for p in (latest, previous_path(latest)) if p.is_file()]
        if not candidates:
            raise FileNotFoundError(f"--resume: no checkpoint at {latest}")
        problems = []
        for path in candidates:
            try:
                ckpt = load_training_checkpoint(path)
                check_resumable(ckpt.get("config", {}), to_dict(self.cfg), path)
                self._check_same_data(ckpt, path)
                self._restore(ckpt)
            except ConfigChanged:
                raise
            except Exception as e:  # unreadable, another model, missing fields
                problems.append(f"{path}: {type(e).__name__}: {e}")
                log.warning("cannot resume from %s (%s: %s)", path, type(e).__name__, e)
                continue
            if problems:
                log.warning("resumed from the previous checkpoint %s instead", path)
            log.info(
                "resumed from %s at epoch %d, step %d (batch %d of the epoch)",
                path,
                self.state.epoch,
                self.state.step,
                self.state.batch_in_epoch,
            )
            return
        raise CheckpointError("--resume: no checkpoint could be loaded: " + "; ".join(problems))

    @property
    def samples_per_batch(self) -> int:
        """Samples of the epoch's order one batch of every rank consumes."""
        return self.cfg.batch_size * self.info.world_size

    def _adapt_to_world_size(self, ckpt: dict[str, Any]) -> int:
        """The batches of the epoch done, at this world size: the checkpoint's cursor over
        this run's samples per batch; the accumulation keeps the checkpoint's global batch."""
        cursor = ckpt.get("cursor", ckpt["batch_in_epoch"] * self.samples_per_batch)
        global_batch = ckpt.get("global_batch", self.global_batch)
        if global_batch != self.global_batch:
            accum, left = divmod(global_batch, self.samples_per_batch)
            if left or not accum:
                raise ValueError(
                    f"--resume with {self.info.world_size} process(es) of batch "
                    f"{self.cfg.batch_size}: the run's global batch of {global_batch} is not a "
                    "whole number of their batches; choose a batch_size or world size "
                    "that divides it"
                )
            log.info(
                "world size %s -> %s: accumulating %d batches per step (global batch %d)",
                ckpt.get("world_size"),
                self.info.world_size,
                accum,
                global_batch,
            )
            self.accum, self.global_batch = accum, global_batch
            self.sampler.global_batch = global_batch
            self.steps_per_epoch = self.sampler.total // global_batch
            self.scheduler = build_scheduler(
                self.optimizer, self.steps_per_epoch, self.cfg.schedule
            )
        return cursor // self.samples_per_batch

    def _check_same_data(self, ckpt: dict[str, Any], path: Path) -> None:
        """The data may move (data.root may change); it may not change."""
        saved = ckpt.get("data_fingerprint")
        if saved is not None and saved != self.data_fingerprint:
            raise ConfigChanged(
                f"--resume from {path}: the data under data.root = {self.cfg.data.root!r} is "
                f"not what this run trained on ({saved['files']:,} files of "
                f"{saved['bytes']:,} bytes then, {self.data_fingerprint['files']:,} of "
                f"{self.data_fingerprint['bytes']:,} now, or other names or sizes): point "
                "data.root at that data, or start a new run"
            )

    def _restore(self, ckpt: dict[str, Any]) -> None:
        batch_in_epoch = self._adapt_to_world_size(ckpt)  # before the optimizer's lrs load
        if self._sharded:
            from torch.distributed.checkpoint.state_dict import (
                StateDictOptions,
                set_model_state_dict,
                set_optimizer_state_dict,
            )

            options = StateDictOptions(full_state_dict=True)
            set_model_state_dict(self.model, ckpt["model"], options=options)
            set_optimizer_state_dict(self.model, self.optimizer, ckpt["optimizer"], options=options)
        else:
            load_checkpoint(self.model, ckpt["model"])
            self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        self.scaler.load_state_dict(ckpt["scaler"])
        if self.ema is not None and ckpt["ema"] is not None:
            self.ema.load_state_dict(ckpt["ema"])
        set_rng_state(ckpt["rng"])
        self.state = TrainState(
            ckpt["epoch"],
            ckpt["step"],
            batch_in_epoch,
            ckpt["failed_files"],
            ckpt["best_top1"],
            list(ckpt["history"]),
        )

    # --- the loop ----------------------------------------------------------------------

    def _loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if self.cfg.multi_label:
            return F.binary_cross_entropy_with_logits(logits, targets.float())
        if targets.ndim == 2:  # soft targets (mixup/cutmix)
            return torch.sum(-targets * F.log_softmax(logits, dim=-1), dim=-1).mean()
        return F.cross_entropy(logits, targets, label_smoothing=self.cfg.label_smoothing)

    def _log(self, row: dict) -> None:
        self.state.history.append(row)
        if not self.info.is_main:
            return
        self.open_run()
        with open(self.out / "metrics.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")
        self.sinks.log(row)

    def _handle_nonfinite(self, loss: torch.Tensor) -> bool:
        """True when the step must be skipped; raises under ``nonfinite: stop``."""
        if torch.isfinite(loss).all():
            return False
        where = f"loss is {loss.item()} at epoch {self.state.epoch}, step {self.state.step}"
        if self.cfg.nonfinite == "skip":
            log.warning("%s: step skipped", where)
            self.optimizer.zero_grad(set_to_none=True)
            return True
        last = self.out / CHECKPOINT
        good = (
            f"the last good checkpoint is {last}"
            if last.is_file()
            else "no checkpoint was written yet"
        )
        raise NonFiniteLossError(
            f"{where}; stopped ({good}; set nonfinite: skip to skip such steps)"
        )

    def _loader(self) -> DataLoader:
        """This epoch's batches of this process, from the batch the run stopped at."""
        cfg, s, info = self.cfg, self.state, self.info
        self.train_set.set_epoch(s.epoch)
        self.sampler.set_epoch(s.epoch, cursor=s.batch_in_epoch * self.samples_per_batch)
        return DataLoader(
            self.train_set,
            batch_size=cfg.batch_size,
            sampler=self.sampler,
            drop_last=True,
            num_workers=cfg.data.num_workers,
            persistent_workers=False,
            worker_init_fn=release_large_blocks,
            pin_memory=info.device.type == "cuda",
            # its own generator: the workers' seeds must not come from (and shift) the global
            # stream that dropout and stochastic depth draw from, or resume would not be exact
            generator=torch.Generator().manual_seed(derive_seed(cfg.seed, "loader", s.epoch)),
        )

    def train_epoch(self) -> None:
        """The rest of this epoch: a ``train_step`` per batch, an ``after_step`` per
        optimizer step (which ends the epoch early at ``max_steps``)."""
        cfg, s = self.cfg, self.state
        batches = self.steps_per_epoch * self.accum
        bar = Progress(
            self._loader(),
            batches - s.batch_in_epoch,
            f"epoch {s.epoch + 1}/{cfg.schedule.epochs}",
            enabled=self.info.is_main,
            interval=cfg.logging.progress_interval,
        )
        self.wrapped.train()
        self._tick, self._clips = time.perf_counter(), 0
        for batch in bar:
            if s.batch_in_epoch >= batches:
                break
            out = self.train_step(batch)
            if out is not None and self.after_step(out, bar):
                break
        bar.close()

    def train_step(self, batch: dict) -> StepOutput | None:
        """One batch: forward, loss and backward (gradients accumulate over
        ``optim.accum_steps`` batches); on the last batch of an accumulation, clipping, the
        optimizer step and EMA. Returns the step's output when an optimizer step was
        taken, None otherwise (accumulating, or a non-finite loss skipped)."""
        cfg, s, info = self.cfg, self.state, self.info
        x = model_inputs(batch, info.device)
        y = batch["label"].to(info.device)
        s.failed_files += int(batch["failed"].sum())
        if self.mixer is not None:
            if isinstance(x, dict):
                raise ValueError("mixup/cutmix apply to video-only inputs")
            x, y = self.mixer(
                x, y, random.Random(derive_seed(cfg.seed, "mix", s.step, s.batch_in_epoch))
            )
        elif cfg.multi_label and y.ndim == 1:
            y = one_hot(y, self.num_classes)
        last_micro = s.batch_in_epoch % self.accum == self.accum - 1
        sync = (
            self.wrapped.no_sync()
            if info.enabled and not last_micro and hasattr(self.wrapped, "no_sync")
            else nullcontext()
        )
        dtype = AUTOCAST[cfg.precision]
        with sync:
            with torch.autocast(info.device.type, dtype=dtype, enabled=dtype is not None):
                loss = self._loss(self.wrapped(x), y)
            skip = self._handle_nonfinite(loss)
            if not skip:
                self.scaler.scale(loss / self.accum).backward()
        s.batch_in_epoch += 1
        self._clips += len(y) * info.world_size
        if not last_micro or skip:
            return None
        self._optimizer_step()
        now = time.perf_counter()
        global_loss = distributed.all_reduce_sum([loss.item()], info)[0] / info.world_size
        out = StepOutput(global_loss, self._clips / max(now - self._tick, 1e-9))
        self._tick, self._clips = now, 0
        return out

    def after_step(self, out: StepOutput, bar: Progress | None = None) -> bool:
        """After an optimizer step: the metrics row, the progress line, a checkpoint when
        one is due, the preemption check (SIGTERM: checkpoint, then ``Preempted``). True
        when training stops here (``max_steps``)."""
        cfg, s = self.cfg, self.state
        row = {
            "kind": "train",
            "epoch": s.epoch,
            "step": s.step,
            "loss": out.loss,
            "lr": self.base_lr(),
            "clips_per_s": out.clips_per_s,
        }
        self._log(row)
        if bar is not None:
            bar.set_postfix(
                loss=f"{row['loss']:.3f}", lr=f"{row['lr']:.2e}", clips_s=f"{out.clips_per_s:.1f}"
            )
        if self._stop_requested():
            if bar is not None:
                bar.close()
            self.save()
            raise Preempted(s.step)
        if cfg.checkpoint_every and s.step % cfg.checkpoint_every == 0:
            self.save()
        return bool(cfg.max_steps and s.step >= cfg.max_steps)

    def _optimizer_step(self) -> None:
        cfg = self.cfg
        if cfg.optim.clip_grad:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.wrapped.parameters(), cfg.optim.clip_grad)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        if self.ema is not None:
            self.ema.update_parameters(self.model)
        self.state.step += 1

    def base_lr(self) -> float:
        """The schedule's lr now: the classifier's (``optim.lr`` at the peak); the other
        parameter groups take it times their ``lr_mult`` (layer decay, backbone, embeddings)."""
        group = self.optimizer.param_groups[0]
        return group["lr"] / group["lr_mult"]

    def say(self, message: str) -> None:
        """A line of the run's own report (rank 0)."""
        if self.info.is_main:
            run_log.info(message)

    def summary(self) -> str:
        cfg, info = self.cfg, self.info
        params = sum(p.numel() for p in self.model.parameters())
        effective = self.global_batch
        views = self.val_set.views_per_video
        videos = len(self.val_set) // views
        return (
            f"training {cfg.model} ({params:,} parameters, {self.num_classes} classes) on "
            f"{len(self.train_set):,} clips, evaluating {videos:,} videos x {views} views; "
            f"batch {cfg.batch_size} x {info.world_size} process(es) x {self.accum} "
            f"accumulation = {effective}; {info.device}, {cfg.precision}; {self.out}"
        )

    def run_eval(self) -> dict[str, Any]:
        model = self.ema.module if self.ema is not None else self.wrapped
        result = evaluate(
            model,
            self.val_set,
            self.cfg.eval_batch_size,
            self.info,
            self.cfg.data.num_workers,
            recipe_data_spec(self.cfg).aggregate,
            AUTOCAST[self.cfg.precision],
        )
        row = {
            "kind": "eval",
            "epoch": self.state.epoch,
            "step": self.state.step,
            **{k: v for k, v in result.items() if isinstance(v, (int, float))},
        }
        self._log(row)
        where = f"epoch {self.state.epoch}/{self.cfg.schedule.epochs}"
        if "mAP" in result:
            self.say(f"{where}: mAP {result['mAP']:.1%} ({result['num_videos']} videos)")
        else:
            self.say(
                f"{where}: top-1 {result['top1']:.1%}, mean class accuracy "
                f"{result['mean_class_accuracy']:.1%} ({result['num_videos']} videos)"
            )
        return result

    def _on_sigterm(self, signum, frame) -> None:
        log.warning("SIGTERM: finishing the current step, then a checkpoint and exit")
        self._sigterm = True

    def _stop_requested(self) -> bool:
        """A SIGTERM arrived (on any rank: every rank stops at the same step)."""
        if not self.info.enabled:
            return self._sigterm
        return distributed.all_reduce_sum([float(self._sigterm)], self.info)[0] > 0

    def fit(self) -> dict[str, Any]:
        """Train to the end (or ``max_steps``), evaluating and checkpointing on the way. On
        SIGTERM (torchrun, SLURM, Kubernetes) the current step finishes, a checkpoint is
        written and ``Preempted`` is raised; ``--resume`` continues exactly."""
        main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, self._on_sigterm) if main_thread else None
        try:
            return self._fit()
        finally:
            self._close_writer()
            self.lock.release()
            if main_thread:  # after a SIGTERM, more of them (a whole group's) are ignored
                signal.signal(signal.SIGTERM, signal.SIG_IGN if self._sigterm else previous)

    def _close_writer(self) -> None:
        """Flush the last TensorBoard / W&B events (also when the run stops on an error)."""
        self.sinks.close()

    def _fit(self) -> dict[str, Any]:
        cfg, s = self.cfg, self.state
        self.say(self.summary())
        self.open_run()
        result: dict[str, Any] = {}
        while s.epoch < cfg.schedule.epochs:
            self.train_epoch()
            if cfg.max_steps and s.step >= cfg.max_steps:
                self.save()
                break
            s.epoch += 1
            s.batch_in_epoch = 0
            if s.epoch % cfg.eval_every == 0 or s.epoch == cfg.schedule.epochs:
                result = self.run_eval()
            self.save()
        if s.failed_files:
            log.warning("%d unreadable files were skipped during training", s.failed_files)
        self.finish(result)
        return result

    def finish(self, result: dict[str, Any]) -> None:
        """Curves, evaluation report and release weights (rank 0 writes)."""
        from .plots import plot_curves

        weights = self._states()[0]  # a collective under FSDP: every rank takes part
        if not self.info.is_main:
            return
        plot_curves(self.state.history, self.out / "curves.png")
        if result:
            write_report(
                {**result, "train_failed_files": self.state.failed_files},
                self.out,
                self.labels,
                "eval",
            )
        write_model_file(weights, self.metadata(), self.out / "model.safetensors")


def data_fingerprint(root: str, *datasets) -> dict[str, Any]:
    """What the data is, wherever it lies: the files of every split (paths relative to
    ``root``, sizes) and their labels, hashed; a moved data set keeps it."""
    digest, files, size = hashlib.sha256(), 0, 0
    for dataset in datasets:
        for item in getattr(dataset, "items", ()):
            try:
                name = Path(item.path).relative_to(root)
            except ValueError:
                name = Path(item.path)
            item_size = item.size()
            digest.update(f"{name}\t{item_size}\t{item.label}\n".encode())
            files, size = files + 1, size + max(item_size, 0)
    return {"sha256": digest.hexdigest(), "files": files, "bytes": size}


def prepare_data(cfg: TrainConfig, info: DistInfo, resume: bool = False) -> None:
    """Write a data set that writes itself (the synthetic set) when it is missing, after
    the recipe is checked: rank 0 writes, the others wait. A resumed run writes none: it
    needs the data it trained on."""
    check_inputs(cfg, info.device)
    if resume and kind_of(cfg.data).generated and not (Path(cfg.data.root) / cfg.data.val).exists():
        raise FileNotFoundError(
            f"--resume: the {cfg.data.dataset} set is not under data.root = {cfg.data.root!r}: "
            "point it at the data the run trained on"
        )
    prepare_synthetic(cfg.data, info.is_main)
    if info.enabled:
        torch.distributed.barrier()


def train(cfg: TrainConfig, resume: bool = False, overwrite: bool = False) -> dict[str, Any]:
    """A whole run; after a SIGTERM, ``{"preempted_at_step": n}`` (the checkpoint is on disk).
    A folder an earlier run wrote into needs ``resume`` or ``overwrite``."""
    info = distributed.init()
    try:
        if info.is_main:
            check_run_folder(Path(cfg.out), resume, overwrite)
        prepare_data(cfg, info, resume)
        trainer = Trainer(cfg, resume=resume, info=info, overwrite=overwrite)
        try:
            return trainer.fit()
        except Preempted as stop:
            where = trainer.out / CHECKPOINT
            log.warning("preempted at step %d: checkpoint written to %s", stop.step, where)
            return {"preempted_at_step": stop.step}
    finally:
        distributed.shutdown()
