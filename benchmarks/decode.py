"""Loader throughput, one run, ratios: decoding original files (videoformer vs decord
0.6.0), prepared shards vs the files they came from, DataLoader workers, a worker's memory.

Parts (``--parts``, default all):

- ``exact``: Kinetics-like files (10 s, 30 fps, 340x256, x264 defaults: keyint 250,
  3 B-frames with B-pyramid, CRF 23, medium), random TimeSformer 8x32 and Video Swin 32x2
  clips, one process pinned to one core: ``read_frames`` (non-reference frames skipped
  unless wanted, seeks over keyframes), the same decoding everything from the keyframe
  before the first wanted frame to the last (the old floor), and decord 0.6.0
  (``VideoReader(num_threads=1).get_batch``); each opens the file per clip, as a loader
  does. The wanted frames are asserted bit-identical to the floor's. Frames decoded per
  clip are reported.
- ``shards``: the same files prepared (``Preparation``, a few encodings), then TimeSformer
  8x32 training samples (short side 256-320, crop 224, flip, normalise) from the files
  and from each shard set, one core: clips/s, bytes vs the files', PSNR of the wanted
  frames vs the files' decoded frames.
- ``workers``: the default shard set through a DataLoader with 1 and 2 workers (batch 4).
- ``memory``: one DataLoader worker over an epoch of shards: its RSS at the 10th sample
  and its largest afterwards.
- ``loader``: the older table (seek vs decoding whole videos, synthetic and 320x240 sets).

    python benchmarks/decode.py [--parts exact,shards,workers,memory] [--clips 40]

Needs decord for ``exact`` (``pip install --no-deps decord==0.6.0``; benchmark-only).
Prints Markdown tables; ``--json FILE`` writes the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from dataclasses import replace
from pathlib import Path

import av
import numpy as np
import torch
from torch.utils.data import DataLoader

from videoformer.data import decode
from videoformer.data.datasets import Item, VideoDataset, read_list_file
from videoformer.data.memory import release_large_blocks
from videoformer.data.prepare import Encoding, Preparation, default_keyint
from videoformer.data.sampling import ClipSampler
from videoformer.data.shards import ShardDataset, load_manifest, read_split
from videoformer.data.synthetic import make_motion_dataset, write_video
from videoformer.data.transforms import video_train_transform

KINETICS = dict(seconds=10, fps=30, width=340, height=256)
SPECS = {"TimeSformer 8x32": ClipSampler(8, 32), "Video Swin 32x2": ClipSampler(32, 2)}
MEAN, STD = [0.45] * 3, [0.225] * 3


def one_core() -> None:
    """This process on one core, one torch thread: figures per core."""
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    torch.set_num_threads(1)


# --- the videos ----------------------------------------------------------------------


def kinetics_like(root: Path, n: int) -> list[Path]:
    """``n`` videos like a Kinetics clip at short side 256: a textured scene panning, six
    things moving across it, sensor noise (about 1 Mbit/s, as Kinetics clips at this size);
    libx264 with its defaults (CRF 23, medium)."""
    root.mkdir(parents=True, exist_ok=True)
    k = KINETICS
    paths = []
    for v in range(n):
        path = root / f"kinetics_like_{v}.mp4"
        paths.append(path)
        if path.exists():
            continue
        rng = np.random.default_rng(v)
        coarse = rng.integers(0, 255, (k["height"] // 4 + 4, k["width"] // 4 + 160, 3))
        scene = np.kron(coarse, np.ones((4, 4, 1))).astype(np.float32)
        scene = (scene + np.roll(scene, 2, 0) + np.roll(scene, 2, 1)) / 3  # texture
        discs = rng.uniform(0, 1, (6, 5))  # x, y, vx, vy, colour
        yy, xx = np.mgrid[: k["height"], : k["width"]]
        tmp = path.with_suffix(".tmp.mp4")
        with av.open(str(tmp), "w") as container:
            stream = container.add_stream("libx264", rate=k["fps"])  # x264 defaults
            stream.width, stream.height, stream.pix_fmt = k["width"], k["height"], "yuv420p"
            for t in range(k["seconds"] * k["fps"]):
                dx = round(t * 2)  # the camera pans 2 px a frame
                frame = scene[:, dx : dx + k["width"]][: k["height"]].copy()
                for x, y, vx, vy, c in discs:  # things moving across it
                    cx = (x + (vx - 0.5) * t / 60) % 1 * k["width"]
                    cy = (y + (vy - 0.5) * t / 60) % 1 * k["height"]
                    inside = (xx - cx) ** 2 + (yy - cy) ** 2 < 25**2
                    frame[inside] = 0.5 * frame[inside] + 127 * np.array([c, 1 - c, 0.5])
                frame += rng.normal(0, 5, frame.shape)  # sensor noise
                image = np.clip(frame, 0, 255).astype(np.uint8)
                picture = av.VideoFrame.from_ndarray(image, format="rgb24")
                picture.pts = t
                container.mux(stream.encode(picture))
            container.mux(stream.encode())
        tmp.rename(path)
    return paths


def clip_indices(spec: ClipSampler, num_frames: int, rng: random.Random) -> list[int]:
    return spec.train(num_frames, rng)


# --- exact decoding vs decord ---------------------------------------------------------


def decode_ours(paths, jobs, skip: bool) -> tuple[float, list, list]:
    """clips/s, the clips, frames decoded per clip: ``read_frames`` (``skip``) per job."""
    start, outs, counts = time.perf_counter(), [], []
    for v, idx in jobs:
        clip = decode.read_frames(paths[v], idx, skip_unwanted=skip)
        outs.append(clip.frames)
        counts.append(clip.decoded)
    return len(jobs) / (time.perf_counter() - start), outs, counts


def decode_decord(paths, jobs) -> float:
    import decord

    start = time.perf_counter()
    for v, idx in jobs:
        decord.VideoReader(str(paths[v]), num_threads=1).get_batch(idx).asnumpy()
    return len(jobs) / (time.perf_counter() - start)


def part_exact(paths: list[Path], clips: int) -> dict:
    one_core()
    infos = [decode.probe(p) for p in paths]
    result = {}
    print("\n| clip | loader | clips/s | frames decoded per clip | vs decord |")
    print("|---|---|---|---|---|")
    for name, spec in SPECS.items():
        rng = random.Random(0)
        jobs = [(v, clip_indices(spec, infos[v].num_frames, rng)) for v in range(len(paths))]
        jobs = (jobs * (clips // len(jobs) + 1))[:clips]

        rows = {}
        for _ in range(2):  # interleaved, best of two: the machine is shared
            fast, fast_out, fast_counts = decode_ours(paths, jobs, True)
            floor, floor_out, floor_counts = decode_ours(paths, jobs, False)
            peer = decode_decord(paths, jobs)
            for key, value in (("videoformer", fast), ("floor", floor), ("decord", peer)):
                rows[key] = max(rows.get(key, 0), value)
        assert all(torch.equal(a, b) for a, b in zip(fast_out, floor_out)), "pixels differ"
        counts = {"videoformer": np.mean(fast_counts), "floor": np.mean(floor_counts)}
        for key, label in (
            ("videoformer", "videoformer `read_frames`"),
            ("floor", "decode keyframe..last wanted"),
            ("decord", "decord 0.6.0"),
        ):
            decoded = f"{counts[key]:.0f}" if key in counts else "-"
            ratio = rows[key] / rows["decord"]
            print(f"| {name} | {label} | {rows[key]:.1f} | {decoded} | {ratio:.2f}x |")
        result[name] = {**rows, "decoded": counts, "wanted": spec.clip_len}
    return result


# --- shards vs files -------------------------------------------------------------------


def encodings() -> dict[str, Encoding]:
    sparse = Encoding(short_side=256, keyint=default_keyint("8x32"))  # what prepare picks
    return {
        "keyint 8, fastdecode (the default for 8x32)": sparse,
        "keyint 8, fastdecode, CRF 18": replace(sparse, crf=18),
        "keyint 16, fastdecode (the default for dense clips)": replace(sparse, keyint=16),
        "keyint 32, fastdecode": replace(sparse, keyint=32),
        "keyint 8, x264's usual tools (--tune none)": replace(sparse, tune=""),
        "intra (--intra), fastdecode": replace(sparse, keyint=1),
        "original bytes (--no-reencode)": Encoding(reencode=False),
    }


def prepared_sets(work: Path, paths: list[Path]) -> dict[str, Path]:
    items = {"train": [Item(p, 0) for p in paths]}
    out = {}
    for name, encoding in encodings().items():
        e = encoding
        tag = f"k{e.keyint}_{e.tune or 'none'}_crf{e.crf}_{int(e.reencode)}"
        folder = work / "shards" / tag
        if not (folder / "manifest.json").exists():
            Preparation(folder, encoding, {"bench": len(paths)}, ["x"], workers=2).run(
                items, report=lambda _: None
            )
        out[name] = folder
    return out


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = (a.double() - b.double()).square().mean().item()
    return 10 * np.log10(255**2 / mse) if mse else float("inf")


class ProbedFiles(VideoDataset):
    """Files as a large data set reads them: each sample probes its file (a process's probe
    cache holds 4096 videos; Kinetics has 240k)."""

    def _info(self, item):
        decode._probe_cached.cache_clear()
        return super()._info(item)


def training_set(dataset_class, items, spec=SPECS["TimeSformer 8x32"]):
    transform = video_train_transform(224, MEAN, STD, short_side=(256, 320))
    return dataset_class(items, spec, transform, label_names=["x"])


def samples_per_second(dataset, clips: int) -> float:
    dataset[0]  # warm
    start = time.perf_counter()
    for i in range(clips):
        dataset[i % len(dataset)]
    return clips / (time.perf_counter() - start)


def part_shards(work: Path, paths: list[Path], clips: int) -> dict:
    sets = prepared_sets(work, paths)
    one_core()
    files = training_set(ProbedFiles, [Item(p, 0) for p in paths])
    source_bytes = sum(p.stat().st_size for p in paths)
    result = {}
    print("\n| TimeSformer 8x32 training samples from | clips/s (1 core) | vs files |", end="")
    print(" bytes vs files | PSNR vs files (dB) |\n|---|---|---|---|---|")
    base = max(samples_per_second(files, clips) for _ in range(2))
    print(f"| the original files | {base:.1f} | 1.00x | 1.00x | - |")
    result["files"] = base
    for name, folder in sets.items():
        items, _ = read_split(str(folder), "train")
        shards = training_set(ShardDataset, items)
        speed = max(samples_per_second(shards, clips) for _ in range(2))
        size = load_manifest(str(folder))["splits"]["train"]["bytes"] / source_bytes
        rng, quality = random.Random(1), []
        for item, path in zip(items, paths):
            idx = clip_indices(SPECS["TimeSformer 8x32"], 300, rng)
            ours = decode.read_frames(shards._source(item), idx, shards._info(item)).frames
            quality.append(psnr(ours, decode.read_frames(path, idx).frames))
        print(
            f"| shards, {name} | {speed:.1f} | {speed / base:.2f}x | {size:.2f}x | "
            f"{np.mean(quality):.1f} |"
        )
        result[name] = {"clips_s": speed, "vs_files": speed / base, "bytes": size}
        result[name]["psnr"] = float(np.mean(quality))
    return result


def part_workers(work: Path, paths: list[Path], clips: int) -> dict:
    folder = prepared_sets(work, paths)[next(iter(encodings()))]
    items, _ = read_split(str(folder), "train")
    torch.set_num_threads(1)
    speeds = {}
    for workers in (1, 2, 1, 2):  # interleaved, best of two
        loader = DataLoader(
            training_set(ShardDataset, items),
            batch_size=4,
            num_workers=workers,
            sampler=[i % len(items) for i in range(clips)],
            worker_init_fn=release_large_blocks,  # as the trainer's loaders
        )
        start = time.perf_counter()
        seen = sum(len(b["label"]) for b in loader)
        speeds[workers] = max(speeds.get(workers, 0), seen / (time.perf_counter() - start))
    ratio = speeds[2] / speeds[1]
    print("\n| shards through a DataLoader | clips/s |\n|---|---|")
    print(f"| 1 worker | {speeds[1]:.1f} |\n| 2 workers | {speeds[2]:.1f} ({ratio:.2f}x) |")
    return {"1": speeds[1], "2": speeds[2], "ratio": ratio}


class MeasuredShards(ShardDataset):
    """Each sample carries its worker's resident memory (bytes) when it was made."""

    def __getitem__(self, index):
        sample = super().__getitem__(index)
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return {**sample, "rss": pages * os.sysconf("SC_PAGE_SIZE")}


def part_memory(work: Path, paths: list[Path], epoch: int) -> dict:
    folder = prepared_sets(work, paths)[next(iter(encodings()))]
    items, _ = read_split(str(folder), "train")
    items = [replace(items[i % len(items)]) for i in range(epoch)]  # an epoch of samples
    torch.set_num_threads(1)
    result = {}
    print("\n| one loader worker, an epoch of shards | clips/s | RSS at the 10th sample |", end="")
    print(" largest after | growth |\n|---|---|---|---|---|")
    for init, label in (
        (release_large_blocks, "as the trainer's (4 MiB mmap threshold)"),
        (None, "glibc's default malloc"),
    ):
        loader = DataLoader(
            training_set(MeasuredShards, items), batch_size=1, num_workers=1, worker_init_fn=init
        )
        start = time.perf_counter()
        rss = [int(b["rss"][0]) / 2**20 for b in loader]
        speed = epoch / (time.perf_counter() - start)
        growth = max(rss[10:]) - rss[9]
        print(f"| {label} | {speed:.1f} | {rss[9]:.0f} MiB | {max(rss[10:]):.0f} MiB | ", end="")
        print(f"+{growth:.1f} MiB |")
        result[label] = {"clips_s": speed, "rss_10th_mib": rss[9], "growth_mib": growth}
    return result


# --- the older table: seek vs whole videos -----------------------------------------------


class WholeVideoDataset(VideoDataset):
    """The naive loader: decode every frame, then take the sampled ones."""

    def _load(self, i, item, view, rng):
        clip = decode.read_video(item.path)
        indices = self.sampler.train(clip.info.num_frames, rng)
        sample = {"video": clip.frames[indices].permute(0, 3, 1, 2), "label": item.label, "crop": 0}
        return self.transform(sample, rng)


def long_videos(root: Path, n: int, seconds: int) -> list[Item]:
    items = []
    rng = np.random.default_rng(0)
    for i in range(n):
        path = root / f"long_{seconds}s_{i}.mp4"
        if not path.exists():
            T = 25 * seconds
            base = rng.integers(0, 255, (240, 320, 3)).astype(np.float32)
            frames = np.stack([np.roll(base, 3 * t, axis=1) for t in range(T)]).astype(np.uint8)
            write_video(path, frames, fps=25, codec="libx264")
        items.append(Item(path, 0))
    return items


def part_loader(work: Path, clips: int) -> dict:
    motion = work / "motion"
    if not (motion / "train.csv").exists():
        make_motion_dataset(motion, num_per_class=10, size=64, frames=16)
    sets = {
        "synthetic motion (64 px, 16 frames)": read_list_file(motion / "train.csv", motion),
        "long (10 s, 320x240, 25 fps)": long_videos(work, 8, 10),
    }
    transform = video_train_transform(112, MEAN, STD, short_side=(128, 160))
    torch.set_num_threads(1)
    print("\n| dataset | loader | workers | clips/s |\n|---|---|---|---|")
    result = {}
    for name, items in sets.items():
        items = (items * (clips // len(items) + 1))[:clips]
        for cls, label in ((VideoDataset, "seek (videoformer)"), (WholeVideoDataset, "whole")):
            for workers in (1, 2):
                dataset = cls(items, ClipSampler(8, 4), transform)
                loader = DataLoader(dataset, 4, num_workers=workers)
                start = time.perf_counter()
                speed = sum(len(b["label"]) for b in loader) / (time.perf_counter() - start)
                print(f"| {name} | {label} | {workers} | {speed:.1f} |", flush=True)
                result[f"{name} / {label} / {workers}"] = speed
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", default="benchmarks/.work")
    parser.add_argument("--parts", default="exact,shards,workers,memory")
    parser.add_argument("--videos", type=int, default=8)
    parser.add_argument("--clips", type=int, default=40)
    parser.add_argument("--epoch", type=int, default=200, help="samples in the memory part")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    work = Path(args.work)
    paths = kinetics_like(work / "kinetics_like", args.videos)
    parts = args.parts.split(",")
    cpu = next(
        (line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if "model name" in line),
        "?",
    )
    print(f"{cpu}; torch {torch.__version__}, PyAV {av.__version__}; {args.clips} clips per row")
    result = {"cpu": cpu}
    # each part in its own process would be cleaner; they pin this one to a core in turn,
    # so the parts that need two cores run first
    for part in ("workers", "memory", "loader", "exact", "shards"):
        if part not in parts:
            continue
        if part == "exact":
            result[part] = part_exact(paths, args.clips)
        elif part == "shards":
            result[part] = part_shards(work, paths, args.clips)
        elif part == "workers":
            result[part] = part_workers(work, paths, args.clips * 2)
        elif part == "memory":
            result[part] = part_memory(work, paths, args.epoch)
        else:
            result[part] = part_loader(work, args.clips)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
